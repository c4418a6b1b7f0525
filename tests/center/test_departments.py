"""Department dispatch end to end through HTTP: resident (active at once), rotating (queued → taken while on
duty), on-call (summons with a required arrival time → acknowledged → arrived, late shown → done); who may do
each step (another department's liaison: 404 outside, 403 inside), sight of the case before and after, the
notifications (right users, once), the department desk and the case-page panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from center.cases.lifecycle.operations import transition
from center.cases.models import Case, CaseEvent
from center.cases.queries import can_see
from center.departments import duty, operations
from center.departments.models import AssignmentStatus, CaseAssignment
from core.accounts.models import Role
from core.audit.models import AuditEntry
from core.db import utcnow
from core.errors import PermissionDenied, ValidationFailed
from notify.models import Notification
from tests.conftest import csrf_from
from tests.core.jurisdiction_helpers import make_user
from tests.factories import case_maker

SH = ZoneInfo("Asia/Shanghai")
S = AssignmentStatus


# A petition a 青石镇 clerk registered at 青石镇, accepted and started by the clerk, committed.
make_case = case_maker(kind="petition", origin="青石镇", summary="派单测试：村道施工扬尘扰民", repeat_of=None,
                       then=("accept", "start"), commit=True)


def local(dt: datetime) -> str:
    return dt.astimezone(SH).strftime("%Y-%m-%dT%H:%M")


def page(client, case):
    return client.get(f"/cases/{case.number}")


def token_of(client, case):
    response = page(client, case)
    assert response.status_code == 200
    return csrf_from(response.get_data(as_text=True))


def post(client, url, token, **data):
    return client.post(url, data={"csrf_token": token, **data})


def dispatch_http(client, case, department, task="到场参与联合调处", **extra):
    return post(client, f"/cases/{case.number}/assignments", token_of(client, case), department_id=str(department.id),
                task=task, **extra)


def step_url(a, step):
    return f"/cases/{a.case.number}/assignments/{a.id}/{step}"


def assignment_of(db, case, department) -> CaseAssignment:
    db.session.expire_all()
    return db.session.scalar(select(CaseAssignment).where(CaseAssignment.case_id == case.id,
                                                          CaseAssignment.department_id == department.id)
                             .order_by(CaseAssignment.id.desc()))


def notes(db, a, event=None):
    stmt = select(Notification).where(Notification.idempotency_key.startswith(f"case-assignment:{a.id}:"))
    if event:
        stmt = stmt.where(Notification.event == event)
    return list(db.session.scalars(stmt.order_by(Notification.id)))


def events(db, case, action):
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == action)))


# --- resident -------------------------------------------------------------------------------------------------

def test_resident_department_is_active_at_once_and_its_users_are_told(db, demo, signed_in):
    case = make_case(demo)
    sifa = demo.department("区司法局")
    liaison = signed_in("sifa.liaison")
    assert page(liaison, case).status_code == 404  # no assignment yet: out of sight

    staff = signed_in("qs.staff")
    response = dispatch_http(staff, case, sifa, task="指导人民调解")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case.number}")
    a = assignment_of(db, case, sifa)
    assert a.status == S.active and a.started_at is not None and a.assigned_by_user_id == demo.user("qs.staff").id
    [event] = events(db, case, "dispatch")
    assert "区司法局" in event.note and "指导人民调解" in event.note
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "case.dispatch", AuditEntry.object_id == str(a.id))) == 1
    told = {n.user_id for n in notes(db, a, "case.dispatched")}
    assert told == {demo.user("sifa.head").id, demo.user("sifa.liaison").id}
    assert len(notes(db, a)) == 2

    body = page(liaison, case).get_data(as_text=True)
    assert "区司法局" in body and "办结反馈" in body and "派单给部门" not in body  # no dispatch form for them
    desk = liaison.get("/center/department").get_data(as_text=True)
    assert case.number in desk and "指导人民调解" in desk
    # the timeline names the step
    assert "派单至部门" in page(staff, case).get_data(as_text=True)


def test_the_same_department_cannot_hold_two_live_assignments(db, demo, signed_in):
    case = make_case(demo)
    sifa = demo.department("区司法局")
    staff = signed_in("qs.staff")
    assert dispatch_http(staff, case, sifa).status_code == 302
    second = dispatch_http(staff, case, sifa)
    assert second.status_code == 422 and "不能重复派单" in second.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CaseAssignment)
                             .where(CaseAssignment.case_id == case.id)) == 1


# --- rotating --------------------------------------------------------------------------------------------------

def test_rotating_department_queues_and_is_taken_on_duty(db, demo, signed_in):
    case = make_case(demo)
    zhujian = demo.department("区住房和城乡建设委员会")
    staff = signed_in("qs.staff")
    assert dispatch_http(staff, case, zhujian, task="核实房屋质量").status_code == 302
    a = assignment_of(db, case, zhujian)
    assert a.status == S.queued and a.started_at is None

    liaison = signed_in("zhujian.liaison")
    desk = liaison.get("/center/department").get_data(as_text=True)
    assert "排队待办" in desk and case.number in desk and "接办" in desk
    token = token_of(liaison, case)
    # off duty per the rota: refused, nothing changes
    duty.register_duty_rule(lambda department, at: False)
    try:
        refused = post(liaison, step_url(a, "take"), token)
    finally:
        duty.register_duty_rule(None)
    assert refused.status_code == 422 and "值班" in refused.get_data(as_text=True)
    assert assignment_of(db, case, zhujian).status == S.queued

    taken = post(liaison, step_url(a, "take"), token, next="/center/department")
    assert taken.status_code == 302 and taken.headers["Location"].endswith("/center/department")
    a = assignment_of(db, case, zhujian)
    assert a.status == S.active and a.started_at is not None
    assert [n.user_id for n in notes(db, a, "case.assignment_taken")] == [demo.user("qs.staff").id]
    assert post(liaison, step_url(a, "take"), token).status_code == 422  # taken once
    assert len(notes(db, a, "case.assignment_taken")) == 1


# --- on-call ---------------------------------------------------------------------------------------------------

def test_on_call_summons_needs_an_arrival_time_in_the_future(db, demo, signed_in):
    case = make_case(demo)
    minzheng = demo.department("区民政局")
    staff = signed_in("qs.staff")
    for arrive_by, message in (("", "召集随驻部门须填写要求到达时间"),
                               (local(utcnow() - timedelta(hours=1)), "要求到达时间须晚于当前时间"),
                               (local(utcnow() + timedelta(days=40)), "30 天"),
                               ("明天上午", "请填写有效时间")):
        response = dispatch_http(staff, case, minzheng, arrive_by=arrive_by)
        body = response.get_data(as_text=True)
        assert response.status_code == 422, arrive_by
        assert message in body
        assert f'value="{arrive_by}"' in body  # the typing is kept
        assert assignment_of(db, case, minzheng) is None


def test_on_call_summons_acknowledged_arrived_and_completed(db, demo, signed_in):
    case = make_case(demo)
    minzheng = demo.department("区民政局")
    staff = signed_in("qs.staff")
    arrive_by = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
    assert dispatch_http(staff, case, minzheng, task="评估救助条件", arrive_by=local(arrive_by)).status_code == 302
    a = assignment_of(db, case, minzheng)
    assert (a.status, a.arrive_by) == (S.summoned, arrive_by)
    [summons] = notes(db, a, "case.summoned")
    assert summons.user_id == demo.user("minzheng.liaison").id and summons.priority == "urgent"
    assert "随驻召集" in page(staff, case).get_data(as_text=True)

    liaison = signed_in("minzheng.liaison")
    desk = liaison.get("/center/department").get_data(as_text=True)
    assert "待响应召集" in desk and case.number in desk and "响应召集" in desk and "剩 " in desk
    token = token_of(liaison, case)
    assert post(liaison, step_url(a, "complete"), token, result="提前办结").status_code == 422  # not active yet
    assert post(liaison, step_url(a, "acknowledge"), token, next="/center/department").status_code == 302
    a = assignment_of(db, case, minzheng)
    assert a.status == S.acknowledged and a.acknowledged_by_user_id == demo.user("minzheng.liaison").id
    again = post(liaison, step_url(a, "acknowledge"), token)
    assert again.status_code == 422  # once only, and no second notification
    [ack] = notes(db, a, "case.summons_acknowledged")
    assert ack.user_id == demo.user("qs.staff").id

    assert post(liaison, step_url(a, "arrive"), token).status_code == 302
    a = assignment_of(db, case, minzheng)
    assert a.status == S.active and a.arrived_at is not None and a.arrived_at <= arrive_by
    [arrived] = events(db, case, "arrived")
    assert "按时到达" in arrived.note
    assert len(notes(db, a, "case.department_arrived")) == 1

    empty = post(liaison, step_url(a, "complete"), token, result="  ")
    assert empty.status_code == 422 and "此项为必填项" in empty.get_data(as_text=True)
    done = post(liaison, step_url(a, "complete"), token, result="已落实临时救助 3 户")
    assert done.status_code == 302 and done.headers["Location"].endswith("/center/department")
    a = assignment_of(db, case, minzheng)
    assert (a.status, a.result) == (S.done, "已落实临时救助 3 户") and a.finished_at is not None
    assert [n.user_id for n in notes(db, a, "case.assignment_done")] == [demo.user("qs.staff").id]
    # done: the department no longer sees the case, but keeps its own record on the desk
    assert page(liaison, case).status_code == 404
    desk = liaison.get("/center/department").get_data(as_text=True)
    assert "近期完成" in desk and "已落实临时救助 3 户" in desk
    assert f'href="/cases/{case.number}"' not in desk
    staff_page = page(staff, case).get_data(as_text=True)
    assert "已落实临时救助 3 户" in staff_page and "部门办结反馈" in staff_page


def test_a_late_arrival_is_recorded_and_shown_as_late(db, demo, signed_in):
    case = make_case(demo)
    minzheng = demo.department("区民政局")
    now = utcnow().replace(second=0, microsecond=0)  # the form takes minutes
    a = operations.dispatch(case, minzheng, actor=demo.actor("qs.staff"), task="到场", at=now - timedelta(hours=3),
                            arrive_by=now - timedelta(minutes=90))
    db.session.commit()
    liaison = signed_in("minzheng.liaison")
    assert "已超时" in liaison.get("/center/department").get_data(as_text=True)
    staff = signed_in("qs.staff")  # the handling side may log the arrival it saw
    response = post(staff, step_url(a, "arrive"), token_of(staff, case), arrived_at=local(now - timedelta(minutes=30)))
    assert response.status_code == 302
    [event] = events(db, case, "arrived")
    assert "迟到 1 小时" in event.note
    assert "迟到 1 小时" in page(staff, case).get_data(as_text=True)


def test_arrival_time_is_checked(db, demo, signed_in):
    case = make_case(demo)
    now = utcnow()
    a = operations.dispatch(case, demo.department("区民政局"), actor=demo.actor("qs.staff"), task="到场",
                            arrive_by=now + timedelta(hours=2))
    db.session.commit()
    staff = signed_in("qs.staff")
    token = token_of(staff, case)
    future = post(staff, step_url(a, "arrive"), token, arrived_at=local(now + timedelta(hours=1)))
    assert future.status_code == 422 and "不能晚于当前时间" in future.get_data(as_text=True)
    before = post(staff, step_url(a, "arrive"), token, arrived_at=local(now - timedelta(days=1)))
    assert before.status_code == 422 and "不能早于召集时间" in before.get_data(as_text=True)
    assert assignment_of(db, case, demo.department("区民政局")).status == S.summoned


# --- who may do what -------------------------------------------------------------------------------------------

def test_another_departments_liaison_is_refused(db, demo, signed_in):
    case = make_case(demo)
    now = utcnow()
    staff = demo.actor("qs.staff")
    summons = operations.dispatch(case, demo.department("区民政局"), actor=staff, task="到场",
                                  arrive_by=now + timedelta(hours=2))
    db.session.commit()
    xinfang = signed_in("xinfang.liaison")
    token = csrf_from(xinfang.get("/center/department").get_data(as_text=True))
    # outside their sight: 404 for the case and for its assignment, nothing changes
    assert page(xinfang, case).status_code == 404
    for step in ("acknowledge", "arrive", "complete"):
        assert post(xinfang, step_url(summons, step), token, result="x").status_code == 404
    # inside (their own department joined too): the case is visible, the other department's steps are not theirs
    own = operations.dispatch(case, demo.department("区信访局"), actor=staff, task="信访答复")
    db.session.commit()
    assert page(xinfang, case).status_code == 200
    assert post(xinfang, step_url(summons, "acknowledge"), token).status_code == 403
    assert post(xinfang, step_url(summons, "arrive"), token).status_code == 403
    assert assignment_of(db, case, demo.department("区民政局")).status == S.summoned
    # an assignment id of another case under this case's number: 404
    other = make_case(demo)
    foreign = operations.dispatch(other, demo.department("区信访局"), actor=staff, task="另一件")
    db.session.commit()
    assert post(xinfang, f"/cases/{case.number}/assignments/{foreign.id}/complete", token,
                result="越权").status_code == 404
    # department users neither dispatch nor withdraw (triage belongs to the handling side)
    assert post(xinfang, f"/cases/{case.number}/assignments", token, department_id=str(own.department_id),
                task="x").status_code == 403
    assert post(xinfang, step_url(own, "withdraw"), token, reason="不办了").status_code == 403
    assert assignment_of(db, case, demo.department("区信访局")).status == S.active


def test_dispatch_is_limited_to_the_handling_side_and_its_centers(db, demo, signed_in):
    case = make_case(demo)
    cg = signed_in("cg.staff")  # another township: cannot see the case
    token = csrf_from(cg.get("/account/password").get_data(as_text=True))
    assert post(cg, f"/cases/{case.number}/assignments", token, department_id=str(demo.department("区司法局").id),
                task="x").status_code == 404
    staff = signed_in("qs.staff")
    foreign = dispatch_http(staff, case, demo.department("城关街道派出所"))
    assert foreign.status_code == 422 and "只能派给办理单位所在中心或其上级中心进驻的部门" in foreign.get_data(as_text=True)
    # 青石镇司法所 has nobody in post in the demo: not offered, and refused (no dead ends) until it has
    body = page(staff, case).get_data(as_text=True)
    assert "青石镇司法所（常驻）" not in body and "区住房和城乡建设委员会（轮驻）" in body and "区民政局（随驻）" in body
    unstaffed = dispatch_http(staff, case, demo.department("青石镇司法所"))
    assert unstaffed.status_code == 422 and "青石镇司法所没有在岗的联络员或负责人，无法派单" in unstaffed.get_data(as_text=True)
    make_user(db, "qssf.liaison", Role.department_liaison, demo.department("青石镇司法所"))
    body = page(staff, case).get_data(as_text=True)
    assert "青石镇司法所（常驻）" in body and "城关街道派出所" not in body
    assert dispatch_http(staff, case, demo.department("青石镇司法所")).status_code == 302
    # a village head covering the origin only does not route a township case
    village_case = make_case(demo, origin="青石村")  # a petition: handled by 青石镇
    with pytest.raises(PermissionDenied):
        operations.dispatch(village_case, demo.department("区司法局"), actor=demo.actor("qs01.head"), task="x")
    # a closed or refused case takes no more departments
    refused = make_case(demo, then=())
    transition(refused, "not_accept", actor=demo.actor("qs.staff"), note="不属于信访受理范围")
    db.session.commit()
    response = dispatch_http(staff, refused, demo.department("区司法局"))
    assert response.status_code == 422 and "不能再派单" in response.get_data(as_text=True)


def test_withdraw_ends_the_departments_sight(db, demo, signed_in):
    case = make_case(demo)
    sifa = demo.department("区司法局")
    a = operations.dispatch(case, sifa, actor=demo.actor("qs.staff"), task="调解")
    db.session.commit()
    liaison = signed_in("sifa.liaison")
    assert page(liaison, case).status_code == 200
    assert can_see(demo.actor("sifa.liaison"), case)
    staff = signed_in("qs.staff")
    token = token_of(staff, case)
    empty = post(staff, step_url(a, "withdraw"), token)
    assert empty.status_code == 422 and "此项为必填项" in empty.get_data(as_text=True)
    assert post(staff, step_url(a, "withdraw"), token, reason="当事人已撤回申请").status_code == 302
    a = assignment_of(db, case, sifa)
    assert (a.status, a.result) == (S.withdrawn, "当事人已撤回申请")
    assert page(liaison, case).status_code == 404
    assert {n.user_id for n in notes(db, a, "case.assignment_withdrawn")} == {
        demo.user("sifa.head").id, demo.user("sifa.liaison").id}
    assert post(staff, step_url(a, "withdraw"), token, reason="再撤一次").status_code == 422
    # a new dispatch after the withdrawal is allowed (no live assignment left)
    assert dispatch_http(staff, case, sifa).status_code == 302


def test_operations_refuse_bad_input_without_http(db, demo):
    case = make_case(demo)
    staff = demo.actor("qs.staff")
    with pytest.raises(ValidationFailed) as exc:
        operations.dispatch(case, demo.department("区民政局"), actor=staff, task="  ")
    assert set(exc.value.errors) == {"task", "arrive_by"}
    with pytest.raises(ValidationFailed):
        operations.dispatch(case, None, actor=staff, task="x")
    inactive = demo.department("区妇联")
    inactive.is_active = False
    with pytest.raises(ValidationFailed):
        operations.dispatch(case, inactive, actor=staff, task="x")


# --- the demo and the desk -------------------------------------------------------------------------------------

def test_demo_gives_every_department_user_a_working_queue(db, demo, signed_in):
    xinfang = signed_in("xinfang.liaison").get("/center/department").get_data(as_text=True)
    assert "区信访局" in xinfang and "开发区企业破产职工安置" in xinfang and "区司法局" not in xinfang
    assert "近期完成" in xinfang and "养殖场已停止排污" in xinfang
    minzheng = signed_in("minzheng.liaison").get("/center/department").get_data(as_text=True)
    assert "待响应召集" in minzheng and "已响应" in minzheng and "响应召集" in minzheng
    zhujian = signed_in("zhujian.liaison").get("/center/department").get_data(as_text=True)
    assert zhujian.count("接办</button>") >= 2
    sifa = signed_in("sifa.head").get("/center/department").get_data(as_text=True)
    assert "赡养" in sifa
    up = db.session.scalar(select(Case).where(Case.summary == "二十余名务工人员讨要工程款"))
    assert up.handling_unit.name == "青石镇"
    states = {a.department.name: a.status for a in up.assignments}
    assert states == {"区民政局": S.acknowledged, "区住房和城乡建设委员会": S.queued}  # 区总工会: nobody in post
    assert all(a.arrive_by > datetime.now(UTC) for a in up.assignments if a.arrive_by)


def test_the_organ_list_holds_open_cases_and_the_done_list_the_latest(db, demo, signed_in, monkeypatch):
    """转送本部门办理 lists the cases the department still has to handle — not 办结 or evaluated ones — and
    近期完成 the latest DONE_SHOWN with how many in all (a district department finishes thousands a year)."""
    from center.cases.models import CaseStatus
    from center.departments import queries
    from core.audit.operations import record

    sifa = demo.department("区司法局")
    case = make_case(demo)
    case.handling_department_id = sifa.id  # as a 转送 to the department leaves it (the fixture's shortcut)
    record(demo.actor("qs.staff"), "case.test_setup", case)
    db.session.commit()
    desk = signed_in("sifa.head").get("/center/department").get_data(as_text=True)
    assert "转送本部门办理" in desk and case.number in desk
    case.status = CaseStatus.closed
    record(demo.actor("qs.staff"), "case.test_setup", case)
    db.session.commit()
    desk = signed_in("sifa.head").get("/center/department").get_data(as_text=True)
    assert case.number not in desk

    xinfang = demo.department("区信访局")
    whole = queries.desk_queues(demo.actor("xinfang.liaison"), [xinfang])["queues"][xinfang.id]
    assert whole["done"] and whole["done_count"] == len(whole["done"])
    monkeypatch.setattr(queries, "DONE_SHOWN", 0)
    capped = queries.desk_queues(demo.actor("xinfang.liaison"), [xinfang])["queues"][xinfang.id]
    assert capped["done"] == [] and capped["done_count"] == whole["done_count"]
    page = signed_in("xinfang.liaison").get("/center/department").get_data(as_text=True)
    assert f"共 {whole['done_count']} 件，显示最近 0 件" in page
