"""督办: the scheduled scan (levels 1–3, each exactly once per deadline) and a leader's 督办 by hand.

Dates are pinned: cases are received on fixed days of March 2026 (no holiday that month) and the scan runs
on fixed days. The transfer deadline of a petition received on Mon 2026-03-02 is Tue 2026-03-17 (15 days);
80 % of it is used on 2026-03-14 (12 of 15 days) → level 1; overdue on 2026-03-18 → level 2 with a new
deadline five working days later, Wed 2026-03-25; still unmet on 2026-03-26 → level 3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from center.cases.lifecycle.operations import transition
from center.cases.models import CaseEvent, Deadline, Supervision
from center.cases.supervision.operations import level_due, scan
from core.actor import Actor
from notify.models import Notification
from tests.conftest import csrf_from
from tests.factories import case_maker

SYSTEM = Actor.system("job")
RECEIVED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, Monday 2 March 2026
LEVEL1_DAY, LEVEL2_DAY, NEW_DUE, LEVEL3_DAY = date(2026, 3, 14), date(2026, 3, 18), date(2026, 3, 25), \
    date(2026, 3, 26)


# A petition a 青石镇 clerk registered at 青石镇 at RECEIVED (flushed).
_petition = case_maker(kind="petition", origin="青石镇", summary="督办测试：反映灌溉渠堵塞", at=RECEIVED, repeat_of=None)


def _deadline(case, rule="transfer") -> Deadline:
    return next(d for d in case.deadlines if d.rule == rule)


def _rows(db, deadline) -> list[Supervision]:
    return list(db.session.scalars(select(Supervision).where(Supervision.deadline_id == deadline.id)
                                   .order_by(Supervision.level)))


def _keys(db, deadline) -> dict[str, int]:
    """{"supervision:<deadline>:<level>:<user>": user} for every person told of a level of ``deadline`` (a
    notification covers every level a scan issued on the case: its key names their Supervision rows)."""
    levels = {r.id: r.level for r in _rows(db, deadline)}
    out = {}
    for n in db.session.scalars(select(Notification).where(
            Notification.idempotency_key.like(f"supervision:{deadline.case_id}:%"))):
        row_ids = [int(i) for i in n.idempotency_key.split(":")[2].split("-")]
        for row_id in row_ids:
            if row_id in levels:
                out[f"supervision:{deadline.id}:{levels[row_id]}:{n.user_id}"] = n.user_id
    return out


def _users(demo, *names) -> set[int]:
    return {demo.user(n).id for n in names}


def _simulate(db, start: date, days: int, *, per_day: int = 3, watch: Deadline | None = None) -> dict[int, date]:
    """Run the scan ``per_day`` times a day for ``days`` days; the first day each level of ``watch`` appeared."""
    first: dict[int, date] = {}
    for offset in range(days):
        today = start + timedelta(days=offset)
        for _ in range(per_day):
            scan(SYSTEM, today=today)
        if watch is not None:
            db.session.refresh(watch)
            for level in range(1, watch.supervision_level + 1):
                first.setdefault(level, today)
    return first


def test_the_transfer_deadline_is_what_the_dates_below_assume(db, demo):
    d = _deadline(_petition(demo))
    assert (d.started_on, d.due_on, d.provisional) == (date(2026, 3, 2), date(2026, 3, 17), False)


def test_each_level_exactly_once_over_a_simulated_month(db, demo):
    case = _petition(demo)
    transfer = _deadline(case)
    first = _simulate(db, date(2026, 3, 1), 31, watch=transfer)
    assert first == {1: LEVEL1_DAY, 2: LEVEL2_DAY, 3: LEVEL3_DAY}
    rows = _rows(db, transfer)
    assert [(r.level, r.form.value) for r in rows] == [(1, "reminder"), (2, "notice"), (3, "listed")]
    assert rows[1].new_due_on == NEW_DUE and rows[0].new_due_on is None
    assert all(r.unit_id == case.handling_unit_id and r.issued_by_user_id is None for r in rows)
    assert transfer.supervision_level == 3
    events = [e.action for e in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    # both deadlines of the registration (transfer and notice, same dates) got each level once
    assert sorted(a for a in events if a.startswith("supervision")) == [
        "supervision_1", "supervision_1", "supervision_2", "supervision_2", "supervision_3", "supervision_3"]


def test_level_3_only_after_the_new_deadline_of_level_2_passes(db, demo):
    transfer = _deadline(_petition(demo))
    scan(SYSTEM, today=LEVEL2_DAY)
    assert [r.level for r in _rows(db, transfer)] == [2]
    for day in (LEVEL2_DAY + timedelta(days=1), NEW_DUE - timedelta(days=1), NEW_DUE):
        scan(SYSTEM, today=day)
        assert [r.level for r in _rows(db, transfer)] == [2], day
    scan(SYSTEM, today=LEVEL3_DAY)
    assert [r.level for r in _rows(db, transfer)] == [2, 3]


def test_a_deadline_first_seen_overdue_gets_level_2_and_level_1_is_skipped_for_good(db, demo):
    transfer = _deadline(_petition(demo))
    scan(SYSTEM, today=date(2026, 3, 20))
    assert [r.level for r in _rows(db, transfer)] == [2]
    assert _rows(db, transfer)[0].new_due_on == date(2026, 3, 27)
    _simulate(db, date(2026, 3, 20), 12)
    assert [r.level for r in _rows(db, transfer)] == [2, 3]  # never a late level 1


def test_nothing_before_80_percent_and_nothing_before_the_start(db, demo):
    transfer = _deadline(_petition(demo))
    for day in (date(2026, 2, 1), date(2026, 3, 2), LEVEL1_DAY - timedelta(days=1)):
        scan(SYSTEM, today=day)
    assert _rows(db, transfer) == []
    assert level_due(transfer, LEVEL1_DAY, None) == 1


def test_met_deadlines_are_never_supervised(db, demo):
    case = _petition(demo)
    transition(case, "accept", actor=demo.actor("qs.staff"), at=RECEIVED + timedelta(days=5))  # meets 转送交办
    from center.cases.documents import operations as documents

    notice = documents.draft_document(case, "acceptance", actor=demo.actor("qs.staff"),
                                      at=RECEIVED + timedelta(days=5, hours=1))
    documents.approve_document(notice, actor=demo.actor("qs.leader"), at=RECEIVED + timedelta(days=5, hours=2))
    _simulate(db, date(2026, 3, 1), 31, per_day=2)
    assert db.session.scalars(select(Supervision).where(Supervision.case_id == case.id)).all() == []
    # the answer deadline it started (60 days from 7 March) is supervised later, on its own schedule
    answer = _deadline(case, "answer")
    assert answer.due_on == date(2026, 5, 6)
    scan(SYSTEM, today=date(2026, 4, 24))  # 48 of 60 days
    assert [r.level for r in _rows(db, answer)] == [1]


def test_cases_in_a_final_status_are_not_supervised(db, demo):
    case = _petition(demo)
    transfer = _deadline(case)
    transition(case, "guide_to_legal", actor=demo.actor("qs.staff"), legal_channel="litigation", at=RECEIVED + timedelta(days=1))
    transfer.met_at = None  # even a deadline left open on an ended case
    scan(SYSTEM, today=LEVEL3_DAY)
    assert _rows(db, transfer) == []


def test_provisional_deadlines_are_supervised_like_any_other(db, demo):
    """Received 2026-11-02 and accepted the same day: the 60-day answer deadline ends in January 2027, a
    year without a published holiday table (暂定)."""
    from core.calendar import load_calendar

    case = _petition(demo, at=datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    transition(case, "accept", actor=demo.actor("qs.staff"), at=datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
    answer = _deadline(case, "answer")
    assert answer.provisional and answer.due_on.year == 2027
    start = answer.started_on + timedelta(days=40)
    first = _simulate(db, start, (answer.due_on - start).days + 20, per_day=2, watch=answer)
    assert sorted(first) == [1, 2, 3]
    level2 = _rows(db, answer)[1]
    assert first[2] == answer.due_on + timedelta(days=1)
    assert level2.new_due_on == load_calendar().add_working_days(first[2], 5).date
    assert first[3] == level2.new_due_on + timedelta(days=1)


def test_notifications_once_each_with_the_right_recipients(db, demo):
    case = _petition(demo)
    transfer = _deadline(case)
    _simulate(db, date(2026, 3, 10), 20)
    keys = _keys(db, transfer)
    by_level = {lvl: {uid for k, uid in keys.items() if k.split(":")[2] == str(lvl)} for lvl in (1, 2, 3)}
    staff = _users(demo, "qs.staff", "qs.center")
    leaders = _users(demo, "qs.leader", "qs.leader2")
    assert by_level[1] == staff  # nobody assigned: the handling unit's staff
    assert by_level[2] == staff | leaders
    assert by_level[3] == _users(demo, "leader.wang", "leader.zhao")
    assert len(keys) == len(staff) + len(staff | leaders) + 2  # one notification per recipient and level
    told = db.session.scalars(select(Notification).where(
        Notification.idempotency_key.like(f"supervision:{case.id}:%"),
        Notification.user_id == demo.user("qs.leader").id)).all()
    [n] = [m for m in told if "超期督办" in m.payload["body"]]
    assert n.event == "case.supervision" and n.priority == "urgent"
    # one message per person per case: the 转送交办 and 受理告知 deadlines ran out together, one card says both
    assert "转送" in n.payload["body"] and "受理告知" in n.payload["body"]
    per_person = db.session.execute(select(Notification.user_id, func.count()).where(
        Notification.idempotency_key.like(f"supervision:{case.id}:%")).group_by(Notification.user_id)).all()
    assert max(c for _, c in per_person) <= 3  # at most one per level, never one per deadline
    assert n.payload["url"] == f"/cases/{case.number}"
    assert case.number in n.payload["body"] and "督办测试" in n.payload["body"]
    assert "2026-03-25" in n.payload["body"] and "督办" in n.payload["title"]


def test_an_assignee_and_an_owner_leader_are_the_ones_told(db, demo):
    case = _petition(demo)
    case.assignee_user_id = demo.user("qs.center").id
    case.owner_leader_user_id = demo.user("leader.zhao").id
    db.session.flush()
    db.session.expire(case)
    transfer = _deadline(case)
    scan(SYSTEM, today=LEVEL1_DAY)
    scan(SYSTEM, today=LEVEL2_DAY)
    keys = _keys(db, transfer)
    level1 = {uid for k, uid in keys.items() if k.split(":")[2] == "1"}
    level2 = {uid for k, uid in keys.items() if k.split(":")[2] == "2"}
    assert level1 == _users(demo, "qs.center")
    assert level2 == _users(demo, "qs.center", "qs.leader", "qs.leader2", "leader.zhao")


def test_the_scan_asks_for_its_candidates_in_one_query(db, demo):
    from sqlalchemy import event

    for i in range(4):
        _petition(demo, summary=f"督办测试 {i}")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "case_deadlines" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = scan(SYSTEM, today=LEVEL2_DAY)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts[2] >= 8
    assert len(statements) == 1, statements


def test_the_job_is_registered_for_half_past_eight(app):
    from core.scheduler import get_job

    job = get_job("cases.supervision")
    assert "督办" in job.description
    assert "hour='8'" in str(job.trigger) and "minute='30'" in str(job.trigger)


# --- by hand ------------------------------------------------------------------------------------------------


def _case_page(client, case):
    page = client.get(f"/cases/{case.number}")
    assert page.status_code == 200, page.status_code
    return page.get_data(as_text=True)


def test_a_leader_supervises_by_hand(app, db, demo, signed_in):
    case = _petition(demo)
    db.session.commit()
    leader = signed_in("qs.leader")
    html = _case_page(leader, case)
    assert "督办记录" in html and "发出督办" in html
    response = leader.post(f"/cases/{case.number}/supervise", data={
        "csrf_token": csrf_from(html), "level": "3", "form": "interview", "opinion": "约谈承办人，限期办结",
        "new_due_on": (datetime.now(UTC).date() + timedelta(days=10)).isoformat()})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    row = db.session.scalar(select(Supervision).where(Supervision.case_id == case.id))
    assert (row.level, row.form.value, row.deadline_id, row.issued_by_user_id) == (
        3, "interview", None, demo.user("qs.leader").id)
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                      CaseEvent.action == "supervision_manual"))
    assert "约谈承办人" in event.note
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.idempotency_key.like(f"supervision:manual:{row.id}:%"))))
    assert told == _users(demo, "qs.staff", "qs.center", "qs.leader2")  # the unit; not the issuer
    html = _case_page(leader, case)
    assert "挂牌督办" in html and "约谈" in html and "领导督办" in html


def test_a_new_deadline_in_the_past_is_refused_and_nothing_is_written(app, db, demo, signed_in):
    case = _petition(demo)
    db.session.commit()
    leader = signed_in("qs.leader")
    token = csrf_from(_case_page(leader, case))
    response = leader.post(f"/cases/{case.number}/supervise", data={
        "csrf_token": token, "level": "2", "form": "phone", "opinion": "请加快", "new_due_on": "2026-01-05"})
    assert response.status_code == 422
    assert "不能早于今天" in response.get_data(as_text=True)
    assert db.session.scalars(select(Supervision).where(Supervision.case_id == case.id)).all() == []


@pytest.mark.parametrize("username, status", [("qs.staff", 403), ("cg.leader", 404), ("qs01.head", 403)])
def test_only_a_leader_covering_the_case_may_supervise(app, db, demo, signed_in, username, status):
    case = _petition(demo)
    db.session.commit()
    client = signed_in(username)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    response = client.post(f"/cases/{case.number}/supervise", data={
        "csrf_token": token, "level": "2", "form": "phone", "opinion": "越权督办"})
    assert response.status_code == status
    assert db.session.scalars(select(Supervision).where(Supervision.case_id == case.id)).all() == []


def test_staff_see_the_record_but_not_the_form(app, db, demo, signed_in):
    case = _petition(demo)
    scan(SYSTEM, today=LEVEL2_DAY)
    db.session.commit()
    html = _case_page(signed_in("qs.staff"), case)
    assert "督办记录" in html and "督办通知" in html and "系统自动" in html and "2026-03-25" in html
    assert "发出督办" not in html


def test_the_demo_shows_supervision_on_its_overdue_cases(db, demo):
    from center.cases.models import Case

    over = db.session.scalar(select(Case).where(Case.summary == "反映养殖场污水排入灌溉渠"))
    levels = {r.level for r in db.session.scalars(select(Supervision).where(Supervision.case_id == over.id))}
    assert 2 in levels
    manual = db.session.scalars(select(Supervision).where(Supervision.case_id == over.id,
                                                          Supervision.deadline_id.is_(None))).all()
    assert [m.issued_by_user_id for m in manual] == [demo.user("qs.leader").id]
