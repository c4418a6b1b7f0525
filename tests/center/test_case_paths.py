"""One case number for life: a petition walked through every stage by the real operations, each by the user the
rules name — intake, acceptance, handling, the answer drafted and approved by another person, service,
closing, an unsatisfied evaluation, 复查 on the platform, 复核 outside it, 终结 — one record, one timeline.
And an extension entered on a provisional (2027) deadline survives the recompute when the table is entered."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from center.cases.aftercare import operations as aftercare
from center.cases.documents import operations as documents
from center.cases.documents.texts import ANSWER_PLACEHOLDER
from center.cases.lifecycle import operations as lifecycle
from center.cases.models import Case, CaseStatus, Deadline, ReviewLevel
from center.cases.presenters import today_shanghai
from center.cases.reviews import operations as reviews
from core.db import utcnow
from core.errors import InvalidTransition, PermissionDenied
from tests.factories import case_maker

# The demo district has her earlier petition: this one is a new matter (repeat_of="none", the default).
_petition = case_maker(kind="petition", origin="青石村", summary="反映征地补偿款未足额发放",
                       demands="补发剩余补偿款；公开补偿标准", category="征地拆迁",
                       applicant={"name": "李桂兰", "phone": "13901010001"}, repeat_of="none")


def test_a_petition_from_intake_to_termination_is_one_record(db, demo):
    staff, leader = demo.actor("qs.staff"), demo.actor("qs.leader")
    case = _petition(demo)
    number = case.number
    lifecycle.transition(case, "accept", actor=staff)
    notice = documents.draft_document(case, "acceptance", actor=staff)
    assert notice.title == "信访事项受理告知书" and "予以受理" in notice.body
    documents.approve_document(notice, actor=leader)  # the issued 受理告知书 meets 受理告知
    lifecycle.transition(case, "start", actor=staff)

    doc = documents.draft_document(case, "answer", actor=staff)
    assert "补发剩余补偿款" in doc.body and "公开补偿标准" in doc.body and "申请复查" in doc.body
    documents.edit_document(doc, actor=staff, title=doc.title, doc_no=doc.doc_no,
                            body=doc.body.replace(ANSWER_PLACEHOLDER, "经核实，已按标准补发并张榜公示。"))
    with pytest.raises(PermissionDenied):
        documents.approve_document(doc, actor=staff)  # the drafter may not approve
    with pytest.raises(InvalidTransition, match="缺少本办理机关经领导审批印发的答复意见书"):
        lifecycle.transition(case, "answer", actor=staff)  # 答复 is the approved answer, not a status
    documents.approve_document(doc, actor=leader)
    lifecycle.transition(case, "answer", actor=staff)
    with pytest.raises(InvalidTransition, match="送达"):
        lifecycle.transition(case, "close", actor=leader)
    documents.record_service(doc, actor=staff, method="registered_mail", served_on=today_shanghai(),
                             reference="XA123456789CN", recipient="李桂兰")
    lifecycle.transition(case, "close", actor=leader)
    aftercare.record_evaluation(case, actor=staff, stage="result", rating="unsatisfied", source="staff")
    assert case.status == CaseStatus.evaluated

    review = reviews.request_review(case, actor=staff, level=ReviewLevel.review, requested_on=today_shanghai(),
                                    organ_unit=demo.unit("示范区"))
    reviews.decide_review(review, actor=demo.actor("leader.wang"), decided_on=today_shanghai(), decision="upheld",
                          notes="原处理意见事实清楚，维持")
    re_review = reviews.request_review(case, actor=staff, level=ReviewLevel.re_review, requested_on=today_shanghai(),
                                       external_organ="市信访局", external_reference="市信复〔2026〕18号")
    reviews.decide_review(re_review, actor=staff, decided_on=today_shanghai(), decision="upheld",
                          external_reference="市信复〔2026〕18号")
    db.session.commit()

    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.status == CaseStatus.terminated
    actions = [e.action for e in sorted(case.events, key=lambda e: (e.at, e.id))]
    expected = ["register", "accept", "document_approved", "deadline_met", "start", "answer", "document_served",
                "close",
                "evaluate", "review_requested", "review_decided", "re_review_requested", "re_review_decided",
                "terminate"]
    positions = [actions.index(a) for a in expected]
    assert positions == sorted(positions), actions
    rules = {d.rule: d for d in case.deadlines}
    assert set(rules) >= {"transfer", "notice", "answer", "review_decision", "re_review_decision"}
    duties = [d for d in case.deadlines if d.kind == "duty"]
    assert all(d.met_at is not None for d in duties), "every duty of a finished case was met"
    assert {d.rule: d.ended_by for d in duties} == {
        "transfer": "accept", "notice": "notice_issued", "answer": "answer_issued",
        "review_decision": "review_decided", "re_review_decision": "re_review_decided"}
    windows = {d.rule: d for d in case.deadlines if d.kind == "window"}
    assert {r: w.ended_by for r, w in windows.items()} == {"review_window": "requested",
                                                            "re_review_window": "requested"}


def test_an_extension_on_a_provisional_deadline_survives_the_recompute(db, demo):
    """Accepted 2026-12-20: the 60-day answer deadline falls in 2027 (暂定). Extended by 10 days; when the
    2027 table is entered the deadline is recomputed — and still carries the 10 days."""
    from datetime import UTC, datetime

    from core.actor import Actor
    from core.calendar.operations import publish_year, set_day

    case = _petition(demo)
    accepted = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
    lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"), at=accepted)
    answer = next(d for d in case.deadlines if d.rule == "answer")
    assert answer.provisional
    provisional_due = answer.due_on
    documents.extend(case, actor=demo.actor("qs.leader"), days=10, reason="需会同国土部门核实", at=utcnow(),
                     drafter=demo.user("qs.staff"))
    assert answer.due_on >= provisional_due + timedelta(days=10)
    # The official 2027 table makes 2027-02-18 (Thursday) and 19 rest days; provisional rules had them working.
    system = Actor.system("cli")
    for day in (date(2027, 2, 18), date(2027, 2, 19)):
        set_day(day, "holiday", actor=system, name="春节")
    publish_year(2027, actor=system)
    db.session.flush()
    row = db.session.get(Deadline, answer.id)
    base = lifecycle.deadline_rules()["answer"]
    from core.calendar import load_calendar

    calendar = load_calendar()
    expected = calendar.add_calendar_days(calendar.add_calendar_days(row.started_on, base.days).date, 10).date
    assert row.id == answer.id and row.due_on == expected and not row.provisional
