"""Evaluation and follow-up (DOMAIN.md §2): 满意 / 基本满意 / 不满意 on acceptance and on the result, the first
result evaluation moving a closed case to 已评价, follow-up visits counted per CASE_FOLLOW_UP_VISITS (1, or 2 for
双回访), the grid worker evaluating on a visit only, and an unsatisfied result offering 重新办理."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from center.cases.aftercare import operations as aftercare
from center.cases.lifecycle import operations as lifecycle
from center.cases.mediation import operations as mediation
from center.cases.models import CaseStatus, Evaluation, FollowUpVisit
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.center.test_mediation import AT, SH, actions, mediating, post, session_on, text
from tests.factories import make_case

CLOSED_AT = AT + timedelta(days=3)
VISIT = datetime(2026, 9, 10, 15, 0, tzinfo=SH)


def closed_dispute(demo, **kw):
    """A dispute of 青石村 closed on an approved agreement on CLOSED_AT (filed by a grid worker of its grid)."""
    kw.setdefault("by", "qs01.g1")
    kw.setdefault("origin", "青石村第1网格")
    case = mediating(demo, **kw)
    session = session_on(demo, case, outcome="success")
    mediation.approve_and_close(session, actor=demo.actor("qs01.head"), at=CLOSED_AT)
    assert case.status == CaseStatus.closed
    return case


def visit(demo, case, by="qs01.g1", *, at=VISIT, **kw):
    return aftercare.record_visit(case, actor=demo.actor(by), visited_at=at, method="home",
                                  notes="入户回访，协议已履行", **kw)


def evaluations(db, case):
    return list(db.session.scalars(select(Evaluation).where(Evaluation.case_id == case.id).order_by(Evaluation.id)))


# --- evaluations --------------------------------------------------------------------------------------------

def test_acceptance_evaluation_after_acceptance_only_and_without_a_status_change(db, demo):
    case = mediating(demo, by="qs01.g1", origin="青石村第1网格")
    # the village handles this dispute: its cadre records the evaluation (the township above only sees it)
    ev = aftercare.record_evaluation(case, actor=demo.actor("qs01.cadre"), stage="acceptance", rating="basically",
                                     source="staff", note="受理及时")
    assert (ev.stage, ev.rating, ev.source, case.status) == ("acceptance", "basically", "staff", CaseStatus.mediating)
    assert actions(case)[-1] == "evaluation"
    new = make_case(demo, "qs.staff", "青石村", summary="新登记纠纷", category="邻里纠纷", applicant="张三", repeat_of=None)
    with pytest.raises(InvalidTransition, match="尚未受理"):
        aftercare.record_evaluation(new, actor=demo.actor("qs01.cadre"), stage="acceptance", rating="satisfied",
                                    source="staff")
    with pytest.raises(InvalidTransition, match="办结后"):
        aftercare.record_evaluation(case, actor=demo.actor("qs01.cadre"), stage="result", rating="satisfied",
                                    source="staff")


def test_the_first_result_evaluation_moves_the_case_to_evaluated(db, demo):
    case = closed_dispute(demo)
    aftercare.record_evaluation(case, actor=demo.actor("qs01.cadre"), stage="result", rating="satisfied",
                                source="petitioner")
    assert case.status == CaseStatus.evaluated and actions(case)[-1] == "evaluate"
    aftercare.record_evaluation(case, actor=demo.actor("qs01.cadre"), stage="result", rating="basically",
                                source="staff")
    assert case.status == CaseStatus.evaluated and actions(case)[-1] == "evaluation"
    assert [e.rating for e in evaluations(db, case)] == ["satisfied", "basically"]
    assert aftercare.latest_result_evaluation(case).rating == "basically"


@pytest.mark.parametrize(("changes", "field"), [
    ({"stage": "later"}, "stage"), ({"rating": "great"}, "rating"), ({"source": "rumour"}, "source"),
    ({"note": "长" * 5001}, "note"), ({"source": "follow_up"}, "visit"),
])
def test_bad_evaluations_are_refused_in_chinese(db, demo, changes, field):
    case = closed_dispute(demo)
    args = {"stage": "result", "rating": "satisfied", "source": "staff", **changes}
    with pytest.raises(ValidationFailed) as exc:
        aftercare.record_evaluation(case, actor=demo.actor("qs01.cadre"), **args)
    assert field in exc.value.errors
    assert evaluations(db, case) == [] and case.status == CaseStatus.closed


def test_a_grid_worker_evaluates_on_a_follow_up_visit_only(db, demo):
    case = closed_dispute(demo)
    with pytest.raises(PermissionDenied, match="回访"):
        aftercare.record_evaluation(case, actor=demo.actor("qs01.g1"), stage="result", rating="satisfied",
                                    source="staff")
    with pytest.raises(NotFound):  # the grid worker of another grid does not see the case
        visit(demo, case, by="qs01.g2", rating="satisfied")
    v = visit(demo, case, rating="satisfied", note="很满意")
    [ev] = evaluations(db, case)
    assert (ev.stage, ev.rating, ev.source, ev.visit_id, ev.recorded_by_user_id) == (
        "result", "satisfied", "follow_up", v.id, demo.user("qs01.g1").id)
    assert case.status == CaseStatus.evaluated
    assert actions(case)[-2:] == ["follow_up", "evaluate"]


# --- follow-up visits ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("required", [1, 2])
def test_follow_up_visits_count_up_to_the_configured_number(app, db, demo, monkeypatch, required):
    monkeypatch.setitem(app.config, "CASE_FOLLOW_UP_VISITS", required)
    case = mediating(demo, by="qs01.g1", origin="青石村第1网格")
    assert aftercare.follow_ups_due(case) == 0  # not closed: nothing due
    with pytest.raises(InvalidTransition, match="办结后"):
        visit(demo, case)
    session = session_on(demo, case, outcome="success")
    mediation.approve_and_close(session, actor=demo.actor("qs01.head"), at=CLOSED_AT)
    assert aftercare.follow_ups_due(case) == required
    for n in range(1, required + 1):
        v = visit(demo, case, at=VISIT + timedelta(days=n), rating="satisfied" if n == required else None)
        assert v.seq == n and aftercare.follow_ups_due(case) == required - n
    with pytest.raises(InvalidTransition, match=f"需回访 {required} 次"):
        visit(demo, case, by="qs01.cadre")
    assert [v.seq for v in aftercare.visits_of(case)] == list(range(1, required + 1))
    assert len(evaluations(db, case)) == 1 and case.status == CaseStatus.evaluated


@pytest.mark.parametrize(("changes", "field"), [
    ({"at": datetime.now(UTC) + timedelta(hours=2)}, "visited_at"),
    ({"at": CLOSED_AT - timedelta(days=1)}, "visited_at"),
    ({"method": "pigeon"}, "method"),
    ({"notes": "  "}, "notes"),
    ({"rating": "great"}, "rating"),
])
def test_bad_visits_are_refused_and_change_nothing(db, demo, changes, field):
    case = closed_dispute(demo)
    kw = {"at": VISIT, "method": "home", "notes": "入户回访", **changes}
    with pytest.raises(ValidationFailed) as exc:
        aftercare.record_visit(case, actor=demo.actor("qs01.g1"), visited_at=kw.pop("at"), **kw)
    assert field in exc.value.errors
    assert aftercare.visits_of(case) == [] and aftercare.follow_ups_due(case) == 1


def test_visit_form_with_a_rating_records_visit_and_evaluation_in_one_post(db, demo, signed_in):
    case = closed_dispute(demo)
    db.session.commit()
    grid = signed_in("qs01.g1")
    page = text(grid.get(f"/cases/{case.number}"))
    assert "记录第 1 次回访" in page and "应回访 1 次，已回访 0 次" in page and "记录群众评价" not in page
    response = post(grid, f"/cases/{case.number}/follow-ups", {
        "visited_at": "2026-09-10T15:00", "method": "phone", "notes": "电话回访，双方均表示协议已履行",
        "rating": "basically"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#aftercare")
    db.session.expire_all()
    [v] = aftercare.visits_of(case)
    assert v.visited_at == VISIT and v.method == "phone"
    [ev] = evaluations(db, case)
    assert (ev.rating, ev.source, ev.visit_id) == ("basically", "follow_up", v.id)
    assert case.status == CaseStatus.evaluated
    page = text(grid.get(f"/cases/{case.number}"))
    assert "已回访 1 次" in page and "记录第 2 次回访" not in page and "基本满意" in page


def test_a_bad_visit_form_keeps_the_typing_and_changes_nothing(db, demo, signed_in):
    case = closed_dispute(demo)
    db.session.commit()
    response = post(signed_in("qs01.g1"), f"/cases/{case.number}/follow-ups",
                    {"visited_at": "2026-09-01T08:00", "method": "home", "notes": "提前回访"})
    body = text(response)
    assert response.status_code == 422 and "回访时间不能早于办结日期（2026-09-04）" in body
    assert 'value="2026-09-01T08:00"' in body and "提前回访</textarea>" in body
    assert aftercare.visits_of(case) == []


# --- unsatisfied → reopen -----------------------------------------------------------------------------------

def test_an_unsatisfied_result_offers_reopen_prominently_and_a_new_round_is_visited_again(db, demo, signed_in):
    case = closed_dispute(demo)
    visit(demo, case, rating="unsatisfied", note="对方未按协议拆除围墙")
    assert case.status == CaseStatus.evaluated and aftercare.follow_ups_due(case) == 0
    db.session.commit()
    head = signed_in("qs01.head")
    page = text(head.get(f"/cases/{case.number}"))
    alert = page.index("群众对办理结果不满意")
    assert alert < page.index("办理期限")  # shown above the deadlines, not down among the panels
    assert "对方未按协议拆除围墙" in page and f"/cases/{case.number}/reopen" in page
    grid_page = text(signed_in("qs01.g1").get(f"/cases/{case.number}"))
    assert "群众对办理结果不满意" in grid_page and f"/cases/{case.number}/reopen" not in grid_page  # no triage

    response = post(head, f"/cases/{case.number}/reopen", {"note": "协议未履行，重新调解"})
    assert response.status_code == 302
    db.session.expire_all()
    assert case.status == CaseStatus.reopened and actions(case)[-1] == "reopen"
    assert [e.note for e in case.events if e.action == "reopen"] == ["协议未履行，重新调解"]
    assert "群众对办理结果不满意" not in text(head.get(f"/cases/{case.number}"))

    lifecycle.transition(case, "mediate", actor=demo.actor("qs01.cadre"))
    again = mediation.record_session(case, actor=demo.actor("qs01.cadre"), mediation_type="people",
                                     held_at=datetime.now(UTC) - timedelta(hours=1), place=None, mediators="王调解员")
    mediation.record_outcome(again, actor=demo.actor("qs01.cadre"), outcome="success", agreement="限期拆除围墙")
    mediation.approve_and_close(again, actor=demo.actor("qs01.head"))
    assert case.status == CaseStatus.closed and aftercare.follow_ups_due(case) == 1  # a new round, a new visit
    second = visit(demo, case, at=datetime.now(UTC), rating="satisfied")
    assert second.seq == 2 and case.status == CaseStatus.evaluated and aftercare.follow_ups_due(case) == 0


def test_reopen_needs_triage(db, demo, signed_in):
    case = closed_dispute(demo)
    db.session.commit()
    assert post(signed_in("qs01.cadre"), f"/cases/{case.number}/reopen", {}).status_code == 403
    assert post(signed_in("qs02.head"), f"/cases/{case.number}/reopen", {}).status_code == 404
    db.session.expire_all()
    assert case.status == CaseStatus.closed
    assert db.session.scalar(select(FollowUpVisit).where(FollowUpVisit.case_id == case.id)) is None
