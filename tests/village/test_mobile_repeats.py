"""The repeat question on the grid worker's 代办 page: the registry (register_case) asks it for every channel, so
a resident's second filing about the same matter is shown, not saved, until the worker answers — as at the
desk (tests/center/test_rule_parity.py)."""

from __future__ import annotations

from sqlalchemy import func, select

from center.cases.models import Case, CaseEvent
from tests.village.test_mobile import cases_with, filing, post_filing


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_second_filing_for_the_same_resident_asks_before_saving(db, login_as, client):
    login_as("qs01.g1")
    first = filing()
    assert post_filing(client, first).status_code == 302
    [earlier] = cases_with(db, first["intake_key"])

    again = filing(summary="邻居院墙外的建筑垃圾仍未清理，排水沟堵塞，下雨积水进屋")
    before = (_count(db, Case), _count(db, CaseEvent))
    asked = post_filing(client, again)
    text = asked.get_data(as_text=True)
    assert asked.status_code == 422 and (_count(db, Case), _count(db, CaseEvent)) == before
    assert "可能是重复件" in text and f'value="{earlier.number}"' in text and 'value="none"' in text
    # the candidate is named with what tells it apart, and can be opened (the grid worker sees her own filings)
    assert f'href="/m/cases/{earlier.number}"' in text and earlier.status_label in text and earlier.summary in text
    assert client.get(f"/m/cases/{earlier.number}").status_code == 200

    linked = post_filing(client, {**again, "repeat_of": earlier.number})
    assert linked.status_code == 302
    [case] = cases_with(db, again["intake_key"])
    assert case.repeat_of_case_id == earlier.id
    assert earlier.number in case.events[0].note


def test_not_a_repeat_files_without_a_link(db, login_as, client):
    login_as("qs01.g1")
    assert post_filing(client, filing()).status_code == 302
    other = filing(summary="邻居院墙外的建筑垃圾仍未清理，排水沟堵塞", repeat_of="none")
    assert post_filing(client, other).status_code == 302
    [case] = cases_with(db, other["intake_key"])
    assert case.repeat_of_case_id is None
