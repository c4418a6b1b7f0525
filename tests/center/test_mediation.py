"""Mediation (三调联动): sessions, outcomes (agreement, or failure with guidance), approval by exactly the handling
unit's leader, and the dispute closing on the approved outcome — through the operations and the case page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from center.cases.lifecycle import operations as lifecycle
from center.cases.mediation import operations as mediation
from center.cases.models import CaseEvent, CaseStatus, MediationSession
from core.db import utcnow
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import csrf_from
from tests.factories import case_maker, make_case

SH = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 9, 1, 10, 0, tzinfo=SH).astimezone(UTC)  # a Tuesday
HAN = re.compile(r"[\u4e00-\u9fff]")
AGREEMENT = "双方自愿达成协议：甲方于 2026 年 9 月 30 日前拆除占用通道的围墙，乙方放弃其他请求。"
GUIDANCE = "调解不成，告知双方可依法向示范区人民法院提起诉讼。"


def party(name="王建华", role="applicant"):
    return {"role": role, "kind": "person", "name": name}


# A dispute a 青石镇 clerk registered at 青石村 at AT, between 王建华 and 李秀英.
dispute = case_maker(kind="dispute", origin="青石村", summary="邻居建房占用通道，协商未果", category="邻里纠纷",
                     applicant=party(), respondent=party("李秀英", "respondent"), at=AT, repeat_of=None)


def mediating(demo, *, origin="青石村", triage="qs01.head", handle="qs01.cadre", **kw):
    """A dispute accepted and in mediation at ``origin`` (pinned times)."""
    case = dispute(demo, origin=origin, **kw)
    lifecycle.transition(case, "accept", actor=demo.actor(triage), at=AT + timedelta(hours=1))
    lifecycle.transition(case, "mediate", actor=demo.actor(handle), at=AT + timedelta(hours=2))
    return case


def session_on(demo, case, by="qs01.cadre", *, outcome=None, **kw):
    session = mediation.record_session(case, actor=demo.actor(by), mediation_type="people",
                                       held_at=AT + timedelta(days=1), place="青石村调解室",
                                       mediators="青石村人民调解委员会 王调解员", participants="双方当事人",
                                       notes="双方陈述意见")
    if outcome == "success":
        mediation.record_outcome(session, actor=demo.actor(by), outcome="success", agreement=AGREEMENT)
    elif outcome == "failure":
        mediation.record_outcome(session, actor=demo.actor(by), outcome="failure", guidance=GUIDANCE)
    return session


def actions(case):
    return [e.action for e in sorted(case.events, key=lambda e: e.id)]


def text(response):
    return response.get_data(as_text=True)


def post(client, url, data):
    token = csrf_from(text(client.get("/account/password")))
    return client.post(url, data={**data, "csrf_token": token})


# --- the dispute paths ------------------------------------------------------------------------------------

def test_dispute_mediation_success_approve_answer_close_evaluate_through_the_pages(db, demo, signed_in):
    case = mediating(demo)
    number = case.number
    cadre, head = signed_in("qs01.cadre"), signed_in("qs01.head")
    page = text(cadre.get(f"/cases/{number}"))
    assert 'id="mediation"' in page and "记录一次调解" in page and "审核通过" not in page

    response = post(cadre, f"/cases/{number}/mediation/sessions", {
        "mediation_type": "people", "held_at": "2026-09-02T09:30", "place": "青石村调解室",
        "mediators": "青石村人民调解委员会", "participants": "双方当事人", "notes": "现场查看通道"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{number}#mediation")
    session = db.session.scalar(select(MediationSession).where(MediationSession.case_id == case.id))
    assert session.held_at == datetime(2026, 9, 2, 9, 30, tzinfo=SH)  # the form's wall time is Shanghai time
    lifecycle.transition(case, "answer", actor=demo.actor("qs01.cadre"))  # 出具调处结果 (no outcome yet)
    with pytest.raises(InvalidTransition, match="调解结果"):  # … but no approved outcome: no close
        lifecycle.transition(case, "close", actor=demo.actor("qs01.head"))
    db.session.commit()

    response = post(cadre, f"/cases/{number}/mediation/{session.id}/outcome",
                    {"outcome": "success", "agreement": AGREEMENT})
    assert response.status_code == 302
    assert "待村(社区)主任审核" in text(cadre.get(f"/cases/{number}"))
    assert post(cadre, f"/cases/{number}/mediation/{session.id}/approve", {}).status_code == 403  # cadre: no approve
    page = text(head.get(f"/cases/{number}"))
    assert "审核通过" in page and "审核并办结" in page
    assert post(head, f"/cases/{number}/mediation/{session.id}/approve", {}).status_code == 302

    db.session.expire_all()
    assert session.approved_by_user_id == demo.user("qs01.head").id and session.agreement == AGREEMENT
    lifecycle.transition(case, "close", actor=demo.actor("qs01.head"))
    assert case.status == CaseStatus.closed
    db.session.commit()

    response = post(cadre, f"/cases/{number}/evaluations", {"stage": "result", "rating": "satisfied",
                                                             "source": "staff"})
    assert response.status_code == 302
    db.session.expire_all()
    assert case.status == CaseStatus.evaluated
    assert actions(case) == ["register", "accept", "mediate", "mediation_session", "answer", "mediation_outcome",
                             "mediation_approved", "close", "evaluate"]
    page = text(cadre.get(f"/cases/{number}"))
    assert "调解成功" in page and AGREEMENT in page and "审核调解结果" in page  # the timeline names the steps


def test_mediation_failure_with_guidance_approve_close(db, demo):
    case = mediating(demo)
    session = session_on(demo, case, outcome="failure")
    mediation.approve_outcome(session, actor=demo.actor("qs01.head"), at=AT + timedelta(days=2))
    lifecycle.transition(case, "answer", actor=demo.actor("qs01.cadre"), at=AT + timedelta(days=2))
    lifecycle.transition(case, "close", actor=demo.actor("qs01.head"), at=AT + timedelta(days=2))
    assert case.status == CaseStatus.closed
    assert (session.outcome, session.guidance, session.agreement) == ("failure", GUIDANCE, None)


def test_a_failed_session_may_be_followed_by_another_and_the_approved_one_closes(db, demo):
    case = mediating(demo)
    first = session_on(demo, case, outcome="failure")
    second = session_on(demo, case, outcome="success")
    with pytest.raises(InvalidTransition, match="最近一次"):  # the parties met again: the first is history
        mediation.approve_outcome(first, actor=demo.actor("qs01.head"))
    mediation.approve_and_close(second, actor=demo.actor("qs01.head"), at=AT + timedelta(days=3))
    assert case.status == CaseStatus.closed
    assert actions(case)[-3:] == ["mediation_approved", "answer", "close"]


@pytest.mark.parametrize(("outcome", "given", "field"), [
    ("success", {}, "agreement"),
    ("success", {"agreement": "   "}, "agreement"),
    ("success", {"guidance": GUIDANCE}, "agreement"),
    ("failure", {}, "guidance"),
    ("failure", {"agreement": AGREEMENT}, "guidance"),
    ("won", {"agreement": AGREEMENT}, "outcome"),
])
def test_success_needs_the_agreement_and_failure_the_guidance(db, demo, outcome, given, field):
    case = mediating(demo)
    session = session_on(demo, case)
    with pytest.raises(ValidationFailed) as exc:
        mediation.record_outcome(session, actor=demo.actor("qs01.cadre"), outcome=outcome, **given)
    assert list(exc.value.errors) == [field] and HAN.search(exc.value.errors[field][0])
    assert session.outcome is None


def test_session_refusals(db, demo):
    case = dispute(demo, by="qs01.g1", origin="青石村第1网格")
    with pytest.raises(InvalidTransition, match="不能记录调解"):  # registered, not yet mediating
        session_on(demo, case)
    lifecycle.transition(case, "accept", actor=demo.actor("qs01.head"), at=AT)
    lifecycle.transition(case, "mediate", actor=demo.actor("qs01.cadre"), at=AT)
    with pytest.raises(ValidationFailed) as exc:
        mediation.record_session(case, actor=demo.actor("qs01.cadre"), mediation_type="people",
                                 held_at=datetime.now(UTC) + timedelta(days=1), place=None, mediators=" ")
    assert set(exc.value.errors) == {"held_at", "mediators"}
    with pytest.raises(PermissionDenied):  # a grid worker does not work the case
        mediation.record_session(case, actor=demo.actor("qs01.g1"), mediation_type="people", held_at=AT,
                                 place=None, mediators="网格员")
    with pytest.raises(NotFound):  # another village's cadre does not even see it
        mediation.record_session(case, actor=demo.actor("qs02.cadre"), mediation_type="people", held_at=AT,
                                 place=None, mediators="调解员")
    session = session_on(demo, case, outcome="success")
    mediation.approve_outcome(session, actor=demo.actor("qs01.head"))
    with pytest.raises(InvalidTransition, match="已经审核"):
        mediation.record_outcome(session, actor=demo.actor("qs01.cadre"), outcome="failure", guidance=GUIDANCE)
    with pytest.raises(InvalidTransition, match="已经审核"):
        mediation.approve_outcome(session, actor=demo.actor("qs01.head"))


def test_approving_an_outcome_not_yet_recorded_is_refused(db, demo):
    case = mediating(demo)
    session = session_on(demo, case)
    with pytest.raises(InvalidTransition, match="尚未记录结果"):
        mediation.approve_outcome(session, actor=demo.actor("qs01.head"))


# --- who approves ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "error"), [
    ("qs01.cadre", PermissionDenied),   # the village's own cadre is no leader
    ("qs.leader", PermissionDenied),    # a township leader covers the village but is not its head
    ("leader.wang", PermissionDenied),  # nor is a district leader
    ("qs.staff", PermissionDenied),
    ("qs02.head", NotFound),            # another village's head does not see the case at all
    ("cg.leader", NotFound),
])
def test_only_the_handling_units_leader_approves(db, demo, username, error):
    case = mediating(demo)
    session = session_on(demo, case, outcome="success")
    with pytest.raises(error) as exc:
        mediation.approve_outcome(session, actor=demo.actor(username))
    if error is PermissionDenied:
        assert "青石村" in exc.value.message and "村(社区)主任" in exc.value.message
    assert session.approved_at is None


def test_approval_refusals_over_http_answer_403_and_404_in_chinese(db, demo, signed_in):
    case = mediating(demo)
    session = session_on(demo, case, outcome="success")
    db.session.commit()
    url = f"/cases/{case.number}/mediation/{session.id}/approve"
    refused = post(signed_in("qs.leader"), url, {})
    assert refused.status_code == 403 and "村(社区)主任" in text(refused)
    assert post(signed_in("qs02.head"), url, {}).status_code == 404
    other = mediating(demo, origin="上坝村", triage="qs02.head", handle="qs02.cadre")
    db.session.commit()
    # a session id of another case under this case's number: 404, nothing approved
    assert post(signed_in("qs02.head"), f"/cases/{other.number}/mediation/{session.id}/approve", {}).status_code == 404
    db.session.expire_all()
    assert session.approved_at is None


def test_a_township_dispute_is_approved_by_a_township_leader_and_closed_in_one_step(db, demo, signed_in):
    case = mediating(demo, origin="青石镇", triage="qs.staff", handle="qs.staff")
    session = session_on(demo, case, by="qs.staff", outcome="success")
    with pytest.raises(PermissionDenied):
        mediation.approve_outcome(session, actor=demo.actor("leader.wang"))
    # the township leader may approve, but does not issue the result (case.handle): one step is refused whole
    with pytest.raises(PermissionDenied, match="出具调处结果"):
        mediation.approve_and_close(session, actor=demo.actor("qs.leader"))
    assert session.approved_at is None and case.status == CaseStatus.mediating
    lifecycle.transition(case, "answer", actor=demo.actor("qs.staff"), at=AT + timedelta(days=2))
    db.session.commit()
    leader = signed_in("qs.leader")
    assert "审核并办结" in text(leader.get(f"/cases/{case.number}"))
    response = post(leader, f"/cases/{case.number}/mediation/{session.id}/approve-close", {"note": "同意办结"})
    assert response.status_code == 302
    db.session.expire_all()
    assert case.status == CaseStatus.closed and session.approved_by_user_id == demo.user("qs.leader").id
    assert actions(case)[-2:] == ["mediation_approved", "close"]


def test_one_click_approve_and_close_by_the_village_head(db, demo, signed_in):
    case = mediating(demo)
    session = session_on(demo, case, outcome="success")
    db.session.commit()
    response = post(signed_in("qs01.head"), f"/cases/{case.number}/mediation/{session.id}/approve-close", {})
    assert response.status_code == 302
    db.session.expire_all()
    assert case.status == CaseStatus.closed
    assert actions(case)[-3:] == ["mediation_approved", "answer", "close"]
    closing = [e for e in case.events if e.action in ("answer", "close")]
    assert {e.actor_user_id for e in closing} == {demo.user("qs01.head").id}


# --- 访调对接: a petition in people's mediation -------------------------------------------------------------

def test_a_petition_referred_to_peoples_mediation_uses_the_same_sessions(db, demo):
    case = make_case(demo, "qs.staff", "青石镇", "petition", summary="邻里宅基地纠纷", category="土地/山林权属",
                     applicant=party(), respondent=party("李秀英", "respondent"), at=AT, repeat_of=None)
    lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"), at=AT)
    lifecycle.transition(case, "start", actor=demo.actor("qs.staff"), at=AT)
    with pytest.raises(InvalidTransition, match="访调对接"):  # not referred: no mediation sessions
        session_on(demo, case, by="qs.staff")
    lifecycle.transition(case, "refer_mediation", actor=demo.actor("qs.staff"), at=AT,
                         consent={"applicant", "respondent"})
    session = session_on(demo, case, by="qs.staff", outcome="success")
    with pytest.raises(PermissionDenied):  # the district leader sees it, but the township handles it
        mediation.approve_outcome(session, actor=demo.actor("leader.wang"))
    mediation.approve_outcome(session, actor=demo.actor("qs.leader"))
    # Still a petition: it is answered by an approved answer that records the mediation's result.
    with pytest.raises(InvalidTransition, match="答复意见书"):
        lifecycle.transition(case, "answer", actor=demo.actor("qs.staff"))
    from center.cases.demo import _ready_to_close

    _ready_to_close(case, {n: demo.user(n) for n in ("qs.staff", "qs.leader", "qs01.cadre", "qs01.head")},
                    at=utcnow())
    lifecycle.transition(case, "answer", actor=demo.actor("qs.staff"))
    lifecycle.transition(case, "close", actor=demo.actor("qs.leader"))
    assert case.status == CaseStatus.closed


# --- bad input on the page ------------------------------------------------------------------------------------

def test_a_bad_session_form_is_refused_in_chinese_and_changes_nothing(db, demo, signed_in):
    case = mediating(demo)
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(CaseEvent))
    future = (datetime.now(SH) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = post(signed_in("qs01.cadre"), f"/cases/{case.number}/mediation/sessions",
                    {"mediation_type": "people", "held_at": future, "mediators": "王调解员"})
    body = text(response)
    assert response.status_code == 422 and "调解时间不能晚于现在" in body and f'value="{future}"' in body
    assert db.session.scalar(select(func.count()).select_from(CaseEvent)) == before
    assert db.session.scalar(select(func.count()).select_from(MediationSession)
                             .where(MediationSession.case_id == case.id)) == 0


def test_the_panel_shows_forms_only_to_who_may_use_them(db, demo, signed_in):
    case = mediating(demo, by="qs01.g1", origin="青石村第1网格")
    session_on(demo, case, outcome="success")
    db.session.commit()
    grid = text(signed_in("qs01.g1").get(f"/cases/{case.number}"))
    assert 'id="mediation"' in grid and "调解成功" in grid
    assert "记录一次调解" not in grid and "审核通过" not in grid and "记录调解结果" not in grid
    leader = text(signed_in("qs.leader").get(f"/cases/{case.number}"))
    assert "审核通过" not in leader and "待村(社区)主任审核" in leader
