"""Specs of the desk pages, the case list and the audited reveal (center.cases.listing.views)."""

from __future__ import annotations

from sqlalchemy import select

from tests.browser.screens import Screen
from tests.specs.base import FormSpec


def _case(demo, summary="反映镇中心小学周边交通安全隐患"):
    from center.cases.models import Case

    return demo.db.session.scalar(select(Case).where(Case.summary == summary))


def _reveal_params(demo):
    case = _case(demo)
    return {"number": case.number, "party_id": case.parties[0].id}


def _party_id(j):
    """A party of the case the route registry uses for <number> (inside j.user's jurisdiction)."""
    from center.cases.models import Case, Party

    number = j.number()
    return j.db.session.scalar(select(Party.id).join(Case, Party.case_id == Case.id).where(Case.number == number)
                               .order_by(Party.id))


FORM_SPECS = {
    "case_list.reveal_post": FormSpec("qs.staff", _reveal_params,
                                      lambda demo: f"/cases/{_case(demo).number}", schema=None),
    # the list's filter form: posted, so that a searched ID number, phone or name never reaches a URL
    "case_list.search": FormSpec("qs.staff", page=lambda demo: "/cases/",
                                 valid=lambda demo: {"q": "反映", "kind": "petition", "risk": "yellow"},
                                 schema="center.cases.listing.search.SearchArgs"),
}

URL_PARAMS = {"party_id": _party_id}

SCREENS = [
    Screen("case-list", "qs.staff", "/cases/", "事项查询"),
    # (a search text is posted, never in the URL: tests/center/test_search.py covers the searched list)
    Screen("case-list-filtered", "qs.staff", "/cases/?kind=petition&risk=yellow&queue=working", "事项查询"),
    Screen("case-list-invalid", "qs.staff", "/cases/?status=bogus&received_from=2026-02-31", "请从列表中选择",
           status=422),
]
