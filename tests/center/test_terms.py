"""Search by words through the full-text index (center.cases.listing.terms): how a text is cut, and that the
list finds a case by any two-character piece of its summary, a single character, a party's name, on both
engines — and never by a phrase running from one party's name into the next."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from center.cases.listing import terms
from center.cases.listing.search import Filters, search_cases
from center.cases.models import CaseTerms
from tests.factories import make_case


@pytest.mark.parametrize(("text", "grams", "chars"), [
    ("排水沟堵塞", ["排水", "水沟", "沟堵", "堵塞"], list("排水沟堵塞")),
    ("张", ["张"], ["张"]),
    ("3号楼A栋", ["3", "号楼", "a", "栋"], ["号", "楼", "栋"]),
    ("ＡＢＣ１２３，（测试）", ["abc123", "测试"], ["测", "试"]),  # full width folded (NFKC), punctuation dropped
    ("", [], []),
])
def test_a_text_is_cut_into_grams_and_characters(text, grams, chars):
    assert terms.cut(text) == (grams, chars)


def _found(actor, q):
    return {c.id for c in search_cases(actor, Filters({"q": q}), per_page=500).cases}


def test_the_list_finds_a_case_by_pieces_of_its_summary_and_its_parties_names(db, demo):
    case = make_case(demo, "qs.staff", "青石村", summary="两户因宅基地界址发生争执，要求重新测量", commit=True,
                     parties=[{"role": "applicant", "kind": "person", "name": "欧阳春晓"},
                              {"role": "respondent", "kind": "person", "name": "司马秋"}])
    actor = demo.actor("qs.staff")
    for q in ("宅基地", "界址", "重新测量", "欧阳春晓", "春晓", "司马", "宅基地 欧阳", "址"):
        assert case.id in _found(actor, q), q
    for q in ("晓司", "测量宅", "宅地", "欧阳秋"):  # across two names, out of order, not adjacent
        assert case.id not in _found(actor, q), q
    assert case.id not in _found(demo.actor("cg.staff"), "欧阳春晓")  # still only within sight
    row = db.session.get(CaseTerms, case.id)
    assert row is not None and "宅基" in row.grams.split() and "欧" in row.chars.split()


def test_a_party_added_later_is_found_by_name(db, demo):
    from center.cases.models import Party, PartyRole

    case = make_case(demo, "qs.staff", "青石村", summary="邻里噪音纠纷", commit=True)
    db.session.add(Party(case=case, role=PartyRole.respondent, kind="person", name="诸葛明亮"))
    db.session.flush()
    assert case.id in _found(demo.actor("qs.staff"), "诸葛")
    expected = terms.document(case.summary, [p.name for p in case.parties])
    stored = db.session.scalar(select(CaseTerms).where(CaseTerms.case_id == case.id))
    assert (stored.grams, stored.chars) == (expected["grams"], expected["chars"])
