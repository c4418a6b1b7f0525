"""延期 (DOMAIN.md §2): once per case, at most 30 days, approved by the handling unit's head, the petitioner told
why (延期告知书). The answer deadline keeps its row and 督办 level and moves on the calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from center.cases.documents import operations as documents
from center.cases.models import CaseDocument, CaseEvent, Deadline, DocumentKind, Extension
from core.audit.models import AuditEntry
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import csrf_from
from tests.specs.documents import SH, T0, actor, working_petition


def answer_deadline(case) -> Deadline:
    [row] = [d for d in case.deadlines if d.rule == "answer"]
    return row


def snapshot(db, case):
    row = answer_deadline(case)
    n_ext = db.session.scalar(select(func.count()).select_from(Extension).where(Extension.case_id == case.id))
    n_docs = db.session.scalar(select(func.count()).select_from(CaseDocument).where(CaseDocument.case_id == case.id))
    n_events = db.session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
    return row.due_on, n_ext, n_docs, n_events


def test_extension_moves_the_deadline_once(db, demo):
    case = working_petition(db)  # accepted 3 March 2026: answer due 2 May → a 劳动节 rest day → 6 May
    row = answer_deadline(case)
    row.supervision_level = 1
    old_id, old_due = row.id, row.due_on
    ext = documents.extend(case, actor=actor(db, "qs.leader"), days=30, reason="需会同环保部门补充检测",
                           drafter=demo.user("qs.staff"), at=T0 + timedelta(days=40))
    from core.calendar import load_calendar

    expected = load_calendar().add_calendar_days(old_due, 30).date
    assert (ext.old_due_on, ext.new_due_on, ext.days) == (old_due, expected, 30)
    assert answer_deadline(case).id == old_id and answer_deadline(case).due_on == expected
    assert answer_deadline(case).supervision_level == 1
    assert ext.approved_by_user_id == demo.user("qs.leader").id
    notice = db.session.get(CaseDocument, ext.notice_document_id)
    assert notice.kind == DocumentKind.extension and notice.drafter_user_id == demo.user("qs.staff").id
    assert notice.is_approved  # the head approved the extension and its notice in one action
    assert "需会同环保部门补充检测" in notice.body and "延长30日" in notice.body
    assert f"{expected.year}年{expected.month}月{expected.day}日" in notice.body
    assert "extended" in [e.action for e in case.events]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.extended")) is not None

    before = snapshot(db, case)
    with pytest.raises(InvalidTransition) as second:
        documents.extend(case, actor=actor(db, "qs.leader"), days=5, reason="再延")
    assert second.value.message == "每件事项只能延期一次" and second.value.status == 422
    assert snapshot(db, case) == before


def test_extension_landing_in_national_day_rolls_to_a_working_day(db, demo):
    from core.calendar import load_calendar

    case = working_petition(db, at=T0 + timedelta(days=130))  # accepted 11 July 2026 → due 9 September
    old = answer_deadline(case).due_on
    ext = documents.extend(case, actor=actor(db, "qs.leader"), days=(date(2026, 10, 1) - old).days,
                           reason="情况复杂", at=T0 + timedelta(days=160))
    calendar = load_calendar()
    assert ext.new_due_on > date(2026, 10, 7) and calendar.is_working_day(ext.new_due_on)
    assert not answer_deadline(case).provisional


@pytest.mark.parametrize("days", [0, 31, -3, 1.5, "10", True])
def test_days_outside_1_to_30_are_refused_and_change_nothing(db, demo, days):
    case = working_petition(db)
    before = snapshot(db, case)
    with pytest.raises(ValidationFailed) as refused:
        documents.extend(case, actor=actor(db, "qs.leader"), days=days, reason="情况复杂")
    assert "1–30" in refused.value.errors["days"][0]
    assert snapshot(db, case) == before


@pytest.mark.parametrize("days", [1, 30])
def test_the_bounds_are_allowed(db, demo, days):
    case = working_petition(db)
    ext = documents.extend(case, actor=actor(db, "qs.leader"), days=days, reason="情况复杂", at=T0 + timedelta(days=5))
    assert ext.new_due_on >= ext.old_due_on + timedelta(days=days)


def test_reason_is_required(db, demo):
    case = working_petition(db)
    with pytest.raises(ValidationFailed) as refused:
        documents.extend(case, actor=actor(db, "qs.leader"), days=10, reason="  ")
    assert "reason" in refused.value.errors


@pytest.mark.parametrize(("username", "error"), [
    ("qs.staff", PermissionDenied),      # the clerk asks; the head approves
    ("leader.wang", PermissionDenied),   # the district is not the handling unit
    ("cg.leader", NotFound),             # another township does not even see it
])
def test_only_the_handling_units_head_extends(db, demo, username, error):
    case = working_petition(db)
    before = snapshot(db, case)
    with pytest.raises(error):
        documents.extend(case, actor=actor(db, username), days=10, reason="情况复杂")
    assert snapshot(db, case) == before


def test_no_open_answer_deadline_no_extension(db, demo):
    case = working_petition(db)
    from tests.specs.documents import answered_draft

    documents.approve_document(answered_draft(db, case), actor=actor(db, "qs.leader"), at=T0 + timedelta(days=20))
    with pytest.raises(InvalidTransition) as refused:
        documents.extend(case, actor=actor(db, "qs.leader"), days=10, reason="情况复杂")
    assert "没有正在计时" in refused.value.message


def test_the_heads_own_notice_waits_for_another_leader(db, demo):
    case = working_petition(db)
    ext = documents.extend(case, actor=actor(db, "qs.leader"), days=10, reason="情况复杂", at=T0 + timedelta(days=5))
    notice = db.session.get(CaseDocument, ext.notice_document_id)
    assert notice.drafter_user_id == demo.user("qs.leader").id and not notice.is_approved
    with pytest.raises(PermissionDenied):
        documents.approve_document(notice, actor=actor(db, "qs.leader"))
    documents.approve_document(notice, actor=actor(db, "qs.leader2"), at=T0 + timedelta(days=6))
    assert notice.is_approved


def test_a_drafter_outside_the_handling_unit_is_refused(db, demo):
    case = working_petition(db)
    with pytest.raises(ValidationFailed) as refused:
        documents.extend(case, actor=actor(db, "qs.leader"), days=10, reason="情况复杂", drafter=demo.user("cg.staff"))
    assert "drafter_id" in refused.value.errors


def test_the_unique_constraint_is_the_backstop(db, demo):
    case = working_petition(db)
    row = answer_deadline(case)
    for _ in range(2):
        db.session.add(Extension(case_id=case.id, deadline_id=row.id, days=5, reason="x", old_due_on=row.due_on,
                                 new_due_on=row.due_on + timedelta(days=5)))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_extension_over_http(db, demo, signed_in):
    case = working_petition(db)
    db.session.commit()
    leader = signed_in("qs.leader")
    assert "批准延期" in leader.get(f"/cases/{case.number}").get_data(as_text=True)
    page = leader.get(f"/cases/{case.number}/extension")
    assert page.status_code == 200 and "延期天数" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    url = f"/cases/{case.number}/extension"
    too_long = leader.post(url, data={"csrf_token": token, "days": "31", "reason": "情况复杂"})
    assert too_long.status_code == 422 and "1–30" in too_long.get_data(as_text=True)
    staff_id = str(demo.user("qs.staff").id)
    ok = leader.post(url, data={"csrf_token": token, "days": "20", "reason": "情况复杂", "drafter_id": staff_id})
    assert ok.status_code == 302
    again = leader.post(url, data={"csrf_token": token, "days": "5", "reason": "再延"})
    assert again.status_code == 422 and "每件事项只能延期一次" in again.get_data(as_text=True)
    db.session.expire_all()
    ext = db.session.scalar(select(Extension).where(Extension.case_id == case.id))
    assert ext.days == 20 and ext.deadline.due_on == ext.new_due_on
    assert signed_in("qs.staff").get(url).status_code == 403  # the clerk lacks case.approve


def test_dates_are_shanghai_dates(db, demo):
    """The answer deadline counts from the Shanghai date of acceptance (sanity for the pinned fixtures)."""
    case = working_petition(db)
    assert answer_deadline(case).started_on == (T0 + timedelta(days=1)).astimezone(SH).date()
