"""Dispatch of a case to a department (DOMAIN.md §1–2) and every step of the assignment that follows.

- resident (常驻): active at once;
- rotating (轮驻): queued, taken by one of the department's users while it is on duty (``duty.on_duty``);
- on-call (随驻): summoned with a required arrival time, acknowledged by the department, its arrival recorded
  (a late arrival stays visible as late).

Each operation checks sight of the case (404) and permission (403) first, then the assignment's state (422),
changes the rows, writes a CaseEvent on the case, an audit row and the notifications (one idempotency key per
assignment, step and recipient), flushes and returns. Never commits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from center.cases import permissions
from center.cases.models import Case, CaseStatus
from center.cases.queries import hearers, may_hear_of, require_visible
from center.departments.duty import on_duty
from center.departments.models import LIVE_ASSIGNMENT, AssignmentStatus, CaseAssignment
from center.departments.presenters import duration_text, late_by
from core.accounts.models import Role, User
from core.accounts.queries import users_holding
from core.actor import Actor
from core.auth.permissions import can, granting, require
from core.db import db, utcnow
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.org.models import Department, DepartmentKind, OrgUnit
from core.timefmt import localtime
from core.work import timeline

logger = logging.getLogger(__name__)

S = AssignmentStatus
TRIAGE, HANDLE, ASSIGNMENT_WORK = permissions.TRIAGE, permissions.HANDLE, permissions.ASSIGNMENT_WORK
#: The case is answered, closed or out of the procedure: no department joins it any more.
DISPATCH_BLOCKED = frozenset({CaseStatus.answered, CaseStatus.closed, CaseStatus.evaluated,
                              CaseStatus.not_accepted, CaseStatus.guided_to_legal, CaseStatus.terminated})
#: A summons names an arrival time within this horizon.
SUMMONS_HORIZON = timedelta(days=30)
#: A recorded arrival may be a few minutes "in the future" (clocks of phones and server differ).
CLOCK_SLACK = timedelta(minutes=5)
TASK_MAX, RESULT_MAX, REASON_MAX = 500, 2000, 500
#: Who receives a department's work: its liaisons and its head.
RECIPIENT_ROLES = (Role.department_liaison, Role.department_head)
KIND_ORDER = {DepartmentKind.resident: 0, DepartmentKind.rotating: 1, DepartmentKind.on_call: 2}
INITIAL_STATUS = {DepartmentKind.resident: S.active, DepartmentKind.rotating: S.queued,
                  DepartmentKind.on_call: S.summoned}


# --- who may do what ---------------------------------------------------------------------------------------

def is_department_user(actor: Actor, department_id: int) -> bool:
    """A liaison or head of that very department (another department on the same case is not enough)."""
    return actor.is_system or any(m.department_id == department_id for m in granting(actor, HANDLE))


def may_triage(actor: Actor, case: Case) -> bool:
    """The handling organ routes a case: dispatches, summons, withdraws (center.cases.permissions)."""
    return can(actor, TRIAGE, case)


def may_work(actor: Actor, a: CaseAssignment) -> bool:
    """The assigned department itself works its assignment: feedback only, no decision on the case."""
    return can(actor, ASSIGNMENT_WORK, a)


def _require_department_user(actor: Actor, a: CaseAssignment) -> None:
    if not may_work(actor, a):
        raise PermissionDenied(f"只有{a.department.name}的联络员或负责人可以执行此操作", action=ASSIGNMENT_WORK)


def _require_triage(actor: Actor, case: Case) -> None:
    require(actor, TRIAGE, case)


def _expect(a: CaseAssignment, allowed: set[AssignmentStatus], what: str) -> None:
    if a.status not in allowed:
        raise InvalidTransition(f"{a.department.name}的派单当前为“{a.status_label}”，不能{what}")


# --- reads the operations need -----------------------------------------------------------------------------

def allowed_departments(case: Case) -> list[Department]:
    """Active departments stationed at the case's handling unit or at a center above it (a township case may
    go to a district department, never to another township's), with someone to receive the work (no dead
    ends: ``unstaffed_refusal``)."""
    rows = db.session.scalars(select(Department).join(OrgUnit, Department.unit_id == OrgUnit.id)
                              .where(Department.unit_id.in_(case.handling_unit.ancestor_ids),
                                     Department.is_active.is_(True)))
    return sorted((d for d in rows if unstaffed_refusal(d) is None),
                  key=lambda d: (-d.unit.depth, KIND_ORDER[d.kind], d.id))


def live_department_ids(case: Case) -> set[int]:
    return set(db.session.scalars(select(CaseAssignment.department_id).where(
        CaseAssignment.case_id == case.id, CaseAssignment.status.in_([s.value for s in LIVE_ASSIGNMENT]))))


def department_users(department: Department) -> list[User]:
    """The department's liaisons and head (active users, active memberships), each once."""
    return users_holding(RECIPIENT_ROLES, department_id=department.id)


def unstaffed_refusal(department: Department) -> str | None:
    """"区民政局没有在岗的联络员或负责人，无法派单" (a summons too), or None."""
    if department_users(department):
        return None
    return f"{department.name}没有在岗的联络员或负责人，无法派单"


def arrival_unit(case: Case) -> OrgUnit:
    """Where a summoned department arrives: the center of the handling organ's tier — a village's case goes to
    its township's center, a township's to that township's, a district's to the district center (a case
    transferred to a department: the center that department sits at)."""
    unit = case.handling_department.unit if case.handling_department is not None else case.handling_unit
    while unit.tier not in ("township", "district") and unit.parent is not None:
        unit = unit.parent
    return unit


def arrival_place(case: Case) -> str:
    """The arrival unit's center by name ("青石镇矛盾纠纷调处化解中心"), or the unit's name."""
    unit = arrival_unit(case)
    return unit.center_name or f"{unit.name}矛调中心"


# --- writing a step -----------------------------------------------------------------------------------------

def _event(a: CaseAssignment, actor: Actor, at: datetime, action: str, note: str, changed: list[str]) -> None:
    timeline.log(a.case, action, actor=actor, at=at, note=note, changed=[f"assignment.{name}" for name in changed],
                 audit_object=a, audit_changed=changed)
    logger.info("case %s assignment %s %s by %s", a.case.number, a.id, action, actor)


def _payload(a: CaseAssignment, title: str, body: str) -> dict:
    return {"title": title, "body": body, "url": f"/cases/{a.case.number}", "number": a.case.number}


def _notify_department(a: CaseAssignment, step: str, event: str, title: str, body: str,
                       priority: str = "normal", actor: Actor | None = None) -> None:
    from notify.outbox import enqueue

    for user in hearers(a.case, department_users(a.department)):
        if actor is not None and user.id == actor.user_id:
            continue  # the sender is not told of their own step
        enqueue(event, user, _payload(a, title, body), key=f"case-assignment:{a.id}:{step}:{user.id}",
                priority=priority)


def _notify_assigner(a: CaseAssignment, actor: Actor, step: str, event: str, title: str, body: str) -> None:
    """The user who dispatched it hears of each step (not of their own)."""
    from notify.outbox import enqueue

    if a.assigned_by_user_id is None or a.assigned_by_user_id == actor.user_id:
        return
    user = db.session.get(User, a.assigned_by_user_id)
    if user is None or not user.is_active or not may_hear_of(user, a.case):
        return
    enqueue(event, user, _payload(a, title, body), key=f"case-assignment:{a.id}:{step}:{user.id}")


# --- the operations -----------------------------------------------------------------------------------------

def dispatch(case: Case, department: Department | None, *, actor: Actor, task: str,
             arrive_by: datetime | None = None, at: datetime | None = None) -> CaseAssignment:
    """Send ``case`` to ``department``: resident → active, rotating → queued, on-call → summoned (``arrive_by``
    required, in the future). One live assignment per department and case."""
    require_visible(actor, case)
    _require_triage(actor, case)
    if case.status in DISPATCH_BLOCKED:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，不能再派单给部门")
    at = at or utcnow()
    task = (task or "").strip()
    errors: dict[str, list[str]] = {}
    if not task:
        errors["task"] = ["请填写交办任务：需要部门做什么"]
    elif len(task) > TASK_MAX:
        errors["task"] = [f"交办任务不超过 {TASK_MAX} 个字"]
    if department is None or not department.is_active \
            or department.unit_id not in case.handling_unit.ancestor_ids:
        errors["department_id"] = ["只能派给办理单位所在中心或其上级中心进驻的部门"]
    elif department.id == case.handling_department_id:
        errors["department_id"] = [f"{department.name}已是本事项的办理机关，无需派单给自己"]
    elif unstaffed_refusal(department):
        errors["department_id"] = [unstaffed_refusal(department)]
    elif department.kind == DepartmentKind.on_call:
        if arrive_by is None:
            errors["arrive_by"] = ["召集随驻部门须填写要求到达时间"]
        elif arrive_by <= at:
            errors["arrive_by"] = ["要求到达时间须晚于当前时间"]
        elif arrive_by > at + SUMMONS_HORIZON:
            errors["arrive_by"] = ["要求到达时间不能晚于 30 天之后"]
    if errors:
        raise ValidationFailed(errors)
    # Serialise dispatches of one case (PostgreSQL; SQLite writes are serialised by BEGIN IMMEDIATE), so two
    # clerks clicking at once cannot both create a live assignment for the same department.
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    if department.id in live_department_ids(case):
        raise ValidationFailed({"department_id": [f"{department.name}已有本事项的在办派单，不能重复派单"]})

    status = INITIAL_STATUS[department.kind]
    on_call = department.kind == DepartmentKind.on_call
    a = CaseAssignment(case=case, department=department, status=status, task=task,
                       assigned_by_user_id=actor.user_id, assigned_at=at, arrive_by=arrive_by if on_call else None,
                       started_at=at if status == S.active else None)
    db.session.add(a)
    db.session.flush()
    changed = ["case_id", "department_id", "status", "task", "assigned_by_user_id", "assigned_at"]
    if on_call:
        changed.append("arrive_by")
        place = arrival_place(case)
        note = f"召集{department.name}（随驻），要求 {localtime(arrive_by)} 前到达{place}：{task}"
        _event(a, actor, at, "summons", note, changed)
        _notify_department(a, "summons", "case.summoned", f"随驻召集：请按时到达{place}",
                           f"事项 {case.number}（{case.category}）召集{department.name}，请于 {localtime(arrive_by)} 前"
                           f"到达{place}，并在系统中确认响应。", priority="urgent", actor=actor)
        return a
    if status == S.active:
        changed.append("started_at")
    note = f"派单至{department.name}（{department.kind_label}）：{task}"
    _event(a, actor, at, "dispatch", note, changed)
    when = "请及时办理" if status == S.active else "已进入本部门轮驻队列，值班时接办"
    _notify_department(a, "dispatch", "case.dispatched", "新派单事项",
                       f"事项 {case.number}（{case.category}）派至{department.name}，{when}。", actor=actor)
    return a


def acknowledge(a: CaseAssignment, *, actor: Actor, at: datetime | None = None) -> CaseAssignment:
    """The on-call department confirms the summons (summoned → acknowledged)."""
    require_visible(actor, a.case)
    _require_department_user(actor, a)
    _expect(a, {S.summoned}, "响应召集")
    at = at or utcnow()
    a.status, a.acknowledged_at, a.acknowledged_by_user_id = S.acknowledged, at, actor.user_id
    _event(a, actor, at, "summons_acknowledged",
           f"{a.department.name}已响应召集，要求 {localtime(a.arrive_by)} 前到达",
           ["status", "acknowledged_at", "acknowledged_by_user_id"])
    _notify_assigner(a, actor, "acknowledged", "case.summons_acknowledged", "随驻召集已响应",
                     f"{a.department.name}已响应事项 {a.case.number} 的召集，将于 {localtime(a.arrive_by)} 前到达。")
    return a


def record_arrival(a: CaseAssignment, *, actor: Actor, at: datetime | None = None) -> CaseAssignment:
    """The on-call department arrived (summoned or acknowledged → active). Recorded by the department or by the
    handling side; ``at`` may be given for an arrival recorded afterwards. A late arrival stays late."""
    require_visible(actor, a.case)
    if not (may_work(actor, a) or may_triage(actor, a.case)):
        raise PermissionDenied("只有该部门或事项办理单位的工作人员可以登记到达", action=HANDLE)
    _expect(a, {S.summoned, S.acknowledged}, "登记到达")
    now = utcnow()
    at = at or now
    if at > now + CLOCK_SLACK:
        raise ValidationFailed({"arrived_at": ["到达时间不能晚于当前时间"]})
    if at < a.assigned_at:
        raise ValidationFailed({"arrived_at": ["到达时间不能早于召集时间"]})
    a.status, a.arrived_at, a.started_at = S.active, at, at
    late = late_by(a)
    lateness = f"，迟到 {duration_text(late)}" if late else "，按时到达"
    _event(a, actor, at, "arrived", f"{a.department.name}已到达{lateness}", ["status", "arrived_at", "started_at"])
    _notify_assigner(a, actor, "arrived", "case.department_arrived", "随驻部门已到达",
                     f"{a.department.name}已到达，开始办理事项 {a.case.number}{lateness}。")
    return a


def take(a: CaseAssignment, actor: Actor, *, at: datetime | None = None) -> CaseAssignment:
    """A rotating department on duty takes a case from its queue (queued → active)."""
    require_visible(actor, a.case)
    _require_department_user(actor, a)
    _expect(a, {S.queued}, "接办")
    at = at or utcnow()
    if not on_duty(a.department, at):
        raise InvalidTransition(f"{a.department.name}当前不在轮驻值班时间，请在值班时接办")
    a.status, a.started_at = S.active, at
    _event(a, actor, at, "assignment_taken", f"{a.department.name}（轮驻）接办", ["status", "started_at"])
    _notify_assigner(a, actor, "taken", "case.assignment_taken", "轮驻部门已接办",
                     f"{a.department.name}已接办事项 {a.case.number}。")
    return a


def complete(a: CaseAssignment, *, actor: Actor, result: str, at: datetime | None = None) -> CaseAssignment:
    """The department reports its work done (active → done). Afterwards it no longer sees the case."""
    require_visible(actor, a.case)
    _require_department_user(actor, a)
    _expect(a, {S.active}, "办结反馈")
    result = (result or "").strip()
    if not result:
        raise ValidationFailed({"result": ["请填写办理结果"]})
    if len(result) > RESULT_MAX:
        raise ValidationFailed({"result": [f"办理结果不超过 {RESULT_MAX} 个字"]})
    at = at or utcnow()
    a.status, a.finished_at, a.result = S.done, at, result
    _event(a, actor, at, "assignment_done", f"{a.department.name}办结反馈：{result}",
           ["status", "finished_at", "result"])
    _notify_assigner(a, actor, "done", "case.assignment_done", "部门办结反馈",
                     f"{a.department.name}已完成事项 {a.case.number} 的派单工作，请查看办理结果。")
    return a


def withdraw(a: CaseAssignment, *, actor: Actor, reason: str, at: datetime | None = None) -> CaseAssignment:
    """The handling side takes a live assignment back; the reason is kept as its result."""
    require_visible(actor, a.case)
    _require_triage(actor, a.case)
    _expect(a, set(LIVE_ASSIGNMENT), "撤回")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["请填写撤回原因"]})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": [f"撤回原因不超过 {REASON_MAX} 个字"]})
    at = at or utcnow()
    a.status, a.finished_at, a.result = S.withdrawn, at, reason
    _event(a, actor, at, "assignment_withdrawn", f"撤回{a.department.name}的派单：{reason}",
           ["status", "finished_at", "result"])
    _notify_department(a, "withdrawn", "case.assignment_withdrawn", "派单已撤回",
                       f"事项 {a.case.number} 派至{a.department.name}的工作已由办理单位撤回，无需继续办理。")
    return a
