"""The statutory clock (center.cases.lifecycle.clock): each deadline met by its named act on its date, each row held by
a responsible unit or department, moves that close the old holder's row and continue it for the new one,
the dispute's 受理 clock, and the petitioner's windows that are never supervised nor anyone's lateness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from center.cases.documents import operations as documents
from center.cases.documents.texts import ANSWER_PLACEHOLDER
from center.cases.lifecycle import clock
from center.cases.lifecycle import operations as lifecycle
from center.cases.listing.queues import queue_clause
from center.cases.mediation import operations as mediation
from center.cases.models import Case, CaseEvent, Deadline, DeadlineKind, Supervision
from center.cases.queries import cases_query
from center.cases.reviews import operations as reviews
from center.cases.supervision.operations import scan
from core.actor import Actor
from core.db import db as _db
from core.errors import InvalidTransition
from tests.factories import case_maker, make_case

RENSHE = "区人社局（劳动人事争议仲裁院）"
T0 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Tuesday


# A petition of 周春梅 a 青石镇 clerk registered at 青石镇 at T0; a dispute between 赵大爷 and 钱大妈, the same.
_petition = case_maker(kind="petition", origin="青石镇", summary="期限测试：反映灌溉渠堵塞", demands="疏通灌溉渠",
                       applicant="周春梅", at=T0)
_dispute = case_maker(kind="dispute", origin="青石镇", summary="期限测试：两户因排水沟发生争执", category="邻里纠纷",
                      applicant="赵大爷", respondent="钱大妈", at=T0)


def _rows(case, rule):
    return sorted((d for d in case.deadlines if d.rule == rule), key=lambda d: d.id)


def _approved_answer(demo, case, drafter, approver, at):
    doc = documents.draft_document(case, "answer", actor=demo.actor(drafter), at=at)
    documents.edit_document(doc, actor=demo.actor(drafter), title=doc.title, doc_no=doc.doc_no,
                            body=doc.body.replace(ANSWER_PLACEHOLDER, "经核实，已依法处理。"))
    return documents.approve_document(doc, actor=demo.actor(approver), at=at + timedelta(hours=1))


def test_every_row_names_its_holder_and_a_move_continues_it_for_the_new_one(db, demo):
    case = _petition(demo)
    township = demo.unit("青石镇")
    notice, = _rows(case, "notice")
    assert (notice.responsible_unit_id, notice.responsible_department_id) == (township.id, None)
    lifecycle.transition(case, "escalate", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=3))
    old, new = _rows(case, "notice")
    assert (old.ended_by, old.met_at) == ("moved", T0 + timedelta(days=3))
    assert (new.continues_id, new.started_on, new.due_on, new.met_at) == (old.id, old.started_on, old.due_on, None)
    assert new.responsible_unit_id == demo.unit("示范区").id and new.held_since == T0 + timedelta(days=3)
    assert not clock.is_late(old, date(2026, 12, 1))  # handed on in time: not the township's lateness

    # 转送 to a department: the department holds the rows, and its 退回 hands them back
    lifecycle.transition(case, "transfer", actor=demo.actor("center.li"), at=T0 + timedelta(days=4),
                         department=demo.department(RENSHE))
    held = [d for d in case.deadlines if d.met_at is None]
    assert held and all(d.responsible_department_id == demo.department(RENSHE).id for d in held)
    lifecycle.transition(case, "return", actor=demo.actor("renshe.liaison"), at=T0 + timedelta(days=5),
                         note="不属本部门职责")
    held = [d for d in case.deadlines if d.met_at is None]
    assert held and all((d.responsible_unit_id, d.responsible_department_id) == (demo.unit("示范区").id, None)
                        for d in held)


def test_lateness_is_charged_to_whoever_held_the_step_when_it_ran_out(db, demo):
    case = _petition(demo)
    notice, = _rows(case, "notice")
    assert notice.due_on == date(2026, 9, 16)
    # the township sits on it past the 15 days, then escalates: the miss is the township's
    lifecycle.transition(case, "escalate", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=20))
    old, new = _rows(case, "notice")
    assert clock.is_late(old, date(2026, 9, 21))
    # the district took it over already late: still overdue on its desk, not the district's lateness
    assert new.due_on == old.due_on and not clock.is_late(new, date(2026, 10, 30))
    lifecycle.transition(case, "accept", actor=demo.actor("center.li"), at=T0 + timedelta(days=21))
    notice_doc = documents.draft_document(case, "acceptance", actor=demo.actor("center.li"),
                                          at=T0 + timedelta(days=22))
    documents.approve_document(notice_doc, actor=demo.actor("leader.wang"), at=T0 + timedelta(days=22, hours=1))
    assert (new.ended_by, new.met_at) == ("notice_issued", T0 + timedelta(days=22, hours=1))
    assert not clock.is_late(new, date(2026, 12, 1))


def test_the_notice_is_met_by_the_issued_acceptance_notice_not_by_acceptance(db, demo):
    case = _petition(demo)
    lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=2))
    notice, = _rows(case, "notice")
    transfer, = _rows(case, "transfer")
    assert (transfer.ended_by, notice.met_at) == ("accept", None)
    doc = documents.draft_document(case, "acceptance", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=3))
    assert notice.met_at is None  # a draft is not a notice
    with pytest.raises(InvalidTransition):  # a dispute or a registered petition has no 受理告知书
        documents.draft_document(_petition(demo, summary="期限测试：另一件"), "acceptance", actor=demo.actor("qs.staff"))
    documents.approve_document(doc, actor=demo.actor("qs.leader"), at=T0 + timedelta(days=4))
    assert (notice.ended_by, notice.met_at) == ("notice_issued", T0 + timedelta(days=4))
    event = [e for e in case.events if e.action == "deadline_met"][-1]
    assert "受理告知书印发" in event.note and "2026-09-05" in event.note


def test_a_not_accepted_notice_meets_the_notice_too(db, demo):
    case = _petition(demo)
    lifecycle.transition(case, "not_accept", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=1),
                         note="已经人民法院判决")
    notice, = _rows(case, "notice")
    assert notice.met_at is None
    doc = documents.draft_document(case, "not_accepted", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=2))
    documents.approve_document(doc, actor=demo.actor("qs.leader"), at=T0 + timedelta(days=2, hours=2))
    assert notice.ended_by == "not_accepted_notice"


def test_the_answer_deadline_is_met_on_the_answers_approval_date_and_answer_needs_it(db, demo):
    case = _petition(demo)
    for action, days in (("accept", 1), ("start", 2)):
        lifecycle.transition(case, action, actor=demo.actor("qs.staff"), at=T0 + timedelta(days=days))
    answer, = _rows(case, "answer")
    with pytest.raises(InvalidTransition, match="答复意见书"):
        lifecycle.transition(case, "answer", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=3))
    assert case.status == "in_progress" and answer.met_at is None
    doc = _approved_answer(demo, case, "qs.staff", "qs.leader", T0 + timedelta(days=30))
    assert (answer.met_at, answer.ended_by) == (doc.approved_at, "answer_issued")
    lifecycle.transition(case, "answer", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=40))
    assert answer.met_at == doc.approved_at  # 答复 days later changes nothing: the issue date counts


def test_a_dispute_waits_to_be_accepted_on_a_clock_restarted_by_a_hand_down(db, demo):
    case = _dispute(demo)  # registered at the township on a Tuesday
    first, = _rows(case, "dispute_accept")
    assert (first.due_on, first.responsible_unit_id) == (date(2026, 9, 4), demo.unit("青石镇").id)  # 3 working days
    lifecycle.transition(case, "hand_down", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=2),
                         unit=demo.unit("青石村"))
    first, second = _rows(case, "dispute_accept")
    assert first.ended_by == "moved" and second.continues_id is None
    # 9-03 (Thursday) + 3 working days = 9-08 (Tuesday), held by the village
    assert (second.started_on, second.due_on, second.responsible_unit_id) == (
        date(2026, 9, 3), date(2026, 9, 8), demo.unit("青石村").id)
    lifecycle.transition(case, "accept", actor=demo.actor("qs01.head"), at=T0 + timedelta(days=3))
    assert second.ended_by == "accept"
    resolve, = _rows(case, "dispute_resolve")
    assert resolve.responsible_unit_id == demo.unit("青石村").id


def test_a_grid_workers_filing_has_a_clock_at_once(db, demo):
    case = make_case(demo, "qs01.g1", "青石村第1网格", summary="期限测试：代办的邻里纠纷", category="邻里纠纷",
                     channel="grid_agent", applicant="孙德明")
    row, = _rows(case, "dispute_accept")
    assert row.met_at is None and row.due_on > row.started_on and row.kind == DeadlineKind.duty


@pytest.mark.parametrize(("outcome", "act"), [("success", "agreement"), ("failure", "mediation_failed")])
def test_the_mediation_deadline_is_met_by_the_agreement_or_the_recorded_failure(db, demo, outcome, act):
    case = _dispute(demo, by="qs01.cadre", origin="青石村")
    lifecycle.transition(case, "accept", actor=demo.actor("qs01.head"), at=T0 + timedelta(hours=2))
    lifecycle.transition(case, "mediate", actor=demo.actor("qs01.cadre"), at=T0 + timedelta(hours=3))
    resolve, = _rows(case, "dispute_resolve")
    held = T0 + timedelta(days=5)
    session = mediation.record_session(case, actor=demo.actor("qs01.cadre"), mediation_type="people", held_at=held,
                                       place="村调解室", mediators="青石村人民调解委员会")
    assert resolve.met_at is None  # a session is not a result
    extra = {"agreement": "双方同意共同疏通排水沟。"} if outcome == "success" else {"guidance": "引导向人民法院起诉"}
    mediation.record_outcome(session, actor=demo.actor("qs01.cadre"), outcome=outcome, **extra)
    assert (resolve.met_at, resolve.ended_by) == (held, act)


def _served_petition(demo, served_on: date):
    case = _petition(demo, at=T0)
    for action, days in (("accept", 1), ("start", 2)):
        lifecycle.transition(case, action, actor=demo.actor("qs.staff"), at=T0 + timedelta(days=days))
    doc = _approved_answer(demo, case, "qs.staff", "qs.leader", T0 + timedelta(days=10))
    documents.record_service(doc, actor=demo.actor("qs.staff"), method="direct", served_on=served_on,
                             recipient="周春梅", at=T0 + timedelta(days=12))
    lifecycle.transition(case, "answer", actor=demo.actor("qs.staff"), at=T0 + timedelta(days=12, hours=1))
    lifecycle.transition(case, "close", actor=demo.actor("qs.leader"), at=T0 + timedelta(days=12, hours=2))
    return case, doc


def test_the_review_window_is_a_window_never_supervised_never_late(db, demo):
    case, doc = _served_petition(demo, date(2026, 9, 12))
    window, = _rows(case, "review_window")
    assert (window.kind, window.started_on, window.due_on) == (DeadlineKind.window, date(2026, 9, 12),
                                                                date(2026, 10, 12))
    assert (window.responsible_unit_id, window.responsible_department_id) == (None, None)
    assert "（含当日）" in clock.window_text(window)
    # a second service (registered mail after a direct attempt) does not extend it
    documents.record_service(doc, actor=demo.actor("qs.staff"), method="registered_mail", served_on=date(2026, 9, 14),
                             reference="XA1", at=T0 + timedelta(days=14))
    assert len(_rows(case, "review_window")) == 1
    long_after = date(2026, 11, 30)
    assert not clock.is_late(window, long_after)
    counts = scan(Actor.system("job"), today=long_after)
    assert db.session.scalars(select(Supervision).where(Supervision.deadline_id == window.id)).all() == []
    assert counts is not None
    overdue = _db.session.scalars(cases_query(demo.actor("qs.staff")).where(
        queue_clause(demo.actor("qs.staff"), "overdue", long_after), Case.id == case.id)).all()
    assert overdue == []


def test_a_request_closes_the_window_and_a_review_decision_opens_the_next(db, demo):
    case, _ = _served_petition(demo, date(2026, 9, 12))
    review = reviews.request_review(case, actor=demo.actor("qs.staff"), level="review",
                                    requested_on=date(2026, 9, 20), organ_unit=demo.unit("示范区"))
    window, = _rows(case, "review_window")
    decision, = _rows(case, "review_decision")
    assert window.ended_by == "requested"
    assert decision.responsible_unit_id == demo.unit("示范区").id  # the review organ's duty
    reviews.decide_review(review, actor=demo.actor("leader.wang"), decided_on=date(2026, 10, 9), decision="upheld",
                          notes="维持")
    re_window, = _rows(case, "re_review_window")
    assert (re_window.kind, re_window.started_on, re_window.met_at) == (DeadlineKind.window, date(2026, 10, 9), None)
    assert reviews.review_window(case, reviews.ReviewLevel.re_review)[1] == re_window.due_on


def test_a_provisional_window_is_recomputed_and_logged_when_the_table_arrives(db, demo):
    from core.calendar.operations import publish_year, set_day

    case = _petition(demo)
    [window] = clock.start(case, ["review_window"], T0, started_on=date(2026, 12, 20), kind=DeadlineKind.window)
    db.session.flush()
    assert window.provisional and window.due_on == date(2027, 1, 19)
    system = Actor.system("cli")
    set_day(date(2027, 1, 19), "holiday", actor=system, name="测试休息日")
    publish_year(2027, actor=system)
    db.session.flush()
    db.session.refresh(window)
    assert (window.due_on, window.provisional) == (date(2027, 1, 20), False)
    logged = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.action == "deadline_recomputed")).all()
    assert logged and "2027-01-20" in logged[-1].note


def test_the_case_page_shows_holders_acts_and_windows(db, demo, signed_in):
    case, _ = _served_petition(demo, date(2026, 9, 12))
    db.session.commit()
    html = signed_in("qs.staff").get(f"/cases/{case.number}").get_data(as_text=True)
    assert "责任单位" in html and "青石镇" in html
    assert "答复意见书印发" in html and "申请期限已过" in html  # served 2026-09-12: the window closed 10-12
    assert "信访人申请期限，不计入办理超期" in html


def test_deadline_rows_are_never_left_without_a_holder_after_the_migration_backfill(db, demo):
    open_duties = db.session.scalars(select(Deadline).where(Deadline.kind == DeadlineKind.duty,
                                                            Deadline.responsible_unit_id.is_(None))).all()
    # only the review decisions of organs outside the platform have nobody here to hold them
    assert all(d.rule in ("review_decision", "re_review_decision") for d in open_duties)
