"""Who may take each step on a case (DOMAIN.md §2, DESIGN.md §4 and §7), registered into core.auth.registry.

Seeing is not deciding. Visibility stays the union (origin unit, handling unit, live department assignments,
assignee, owner leader, filer: center.cases.queries). Decisions belong to the **handling organ**: the
members at the case's handling unit (the tier's center), or — once the case is transferred (转送/交办) to a
competent department (信访工作条例 Art. 31–33) — that department, which accepts, handles and answers in its
own name, its head approving; the center then keeps the scope (``handling_unit``), not the decisions.
A department joining by dispatch (派单 / 联合调处) or summons (随驻召集) is a *feedback-only* party: it
works its assignment (acknowledge, progress, result) and decides nothing on the case. The origin keeps what
the origin may do: notes, photos, follow-ups, the evaluation on a visit, asking for escalation.

Each action's grants are literal below; ``tests/center/test_authority_table.py`` checks them against its own
literal table (action × demo role × relation), not against this module.
"""

from __future__ import annotations

from center.cases.models import LIVE_ASSIGNMENT, Case, CaseAssignment, Review
from core.accounts.models import Membership, Role
from core.auth.registry import (
    ABOVE,
    ASSIGNEE,
    FEEDBACK,
    FILER,
    HANDLING,
    HANDLING_UNIT,
    ORIGIN,
    OWNER,
    RELATIONS,
    grant,
    register_action,
    register_permission,
    register_relations,
)

R = Role
#: Staff who route and decide on the handling side (a village head only ever handles disputes: a petition
#: never has a village as its handling unit, center.cases.lifecycle.operations).
STAFF = (R.center_staff, R.township_staff, R.village_head, R.department_head, R.department_liaison)
#: Who works a case day to day on the handling side.
WORKERS = (*STAFF, R.village_cadre)
#: The organ's responsible leader approves (documents, closing, mediation outcomes, extension).
LEADERS = (R.district_leader, R.township_leader, R.village_head, R.department_head)
SUPERVISORS = (R.district_leader, R.township_leader)
CASE_ROLES = (R.district_leader, R.center_staff, R.department_head, R.department_liaison, R.township_leader,
              R.township_staff, R.village_head, R.village_cadre, R.grid_worker)
VILLAGE_SIDE = (R.village_head, R.village_cadre, R.grid_worker)
DEPARTMENT_ROLES = (R.department_head, R.department_liaison)

# Action names (the permission each case step requires).
TRIAGE = "case.triage"
HANDLE = "case.handle"
APPROVE = "case.approve"
SUPERVISE = "case.supervise"
#: 包案 and risk grading: who owns a case and how serious it is. The unit above may set them too (领导包案 is the
#: higher tier's call: a red case at a village is owned by the township's secretary), but it never decides the
#: matter itself.
ASSIGN = "case.assign"
NOTE = "case.note"
FOLLOW_UP = "case.followup"
EVALUATE = "case.evaluate"
#: The 评价 transition itself follows an evaluation record of either kind: by hand (case.evaluate) or taken on
#: a follow-up visit (case.followup, the origin's grid worker included). It is refused without the record.
EVALUATED = "case.evaluated"
REVIEW_DECIDE = "case.review_decide"
#: The petitioner asks the organ one level up for 复查/复核: recorded by the handling organ or by that organ.
REVIEW_REQUEST = "case.review_request"
ASSIGNMENT_WORK = "case.assignment_work"

# Flat permissions: held by the role whatever the case, within the membership's jurisdiction (seeing is the
# union of jurisdictions; center.cases.queries). Not decisions: those are the actions above.
READ = "case.read"
INTAKE = "case.intake"
#: Seeing a party's full ID number and phone (every reveal is audited) and exporting the list.
REVEAL = "case.reveal"
EXPORT = "case.export"
#: Who files a case (登记): the centers' staff, the village side (a grid worker files for a resident, 代办).
INTAKE_ROLES = (R.center_staff, R.township_staff, R.village_head, R.village_cadre, R.grid_worker)
REVEAL_ROLES = (R.district_leader, R.center_staff, R.township_leader, R.township_staff)
EXPORT_ROLES = (*REVEAL_ROLES, R.department_head, R.village_head)


def _hidden_by_accusation(m: Membership, case: Case) -> bool:
    """A 检举控告 case is invisible to the accused unit and everyone under it (DESIGN.md §4)."""
    if not case.is_accusation or case.accused_unit_id is None:
        return False
    unit = m.unit if m.unit is not None else (m.department.unit if m.department is not None else None)
    return unit is not None and case.accused_unit_id in unit.ancestor_ids


def case_relations(m: Membership, case: Case) -> set[str]:
    held: set[str] = set()
    if case.filed_by_user_id is not None and case.filed_by_user_id == m.user_id:
        held.add(FILER)
    if _hidden_by_accusation(m, case):
        return held
    if case.owner_leader_user_id is not None and case.owner_leader_user_id == m.user_id:
        held.add(OWNER)
    if case.assignee_user_id is not None and case.assignee_user_id == m.user_id:
        held.add(ASSIGNEE)
    if m.unit is not None:
        handling = case.handling_unit
        if m.unit_id == handling.id:
            held.add(HANDLING_UNIT if case.handling_department_id is not None else HANDLING)
        elif handling.is_within(m.unit):
            held.add(ABOVE)
        if case.origin_unit.is_within(m.unit):
            held.add(ORIGIN)
    elif m.department_id is not None:
        if m.department_id == case.handling_department_id:
            held.add(HANDLING)
        elif any(a.department_id == m.department_id and a.is_live for a in case.assignments):
            held.add(FEEDBACK)
    return held


def assignment_relations(m: Membership, a: CaseAssignment) -> set[str]:
    """A department's own assignment: its users work it (feedback); the case's handling organ manages it."""
    held = set()
    if m.department_id is not None and m.department_id == a.department_id and a.status in LIVE_ASSIGNMENT:
        held.add(FEEDBACK)
    return held | ({HANDLING} & case_relations(m, a.case))


def review_relations(m: Membership, review: Review) -> set[str]:
    """复查/复核 on the platform: the organ one level up (its members at that unit) decides."""
    if review.organ_unit_id is not None and m.unit_id == review.organ_unit_id:
        return {HANDLING}
    return set()


def init_app(app) -> None:
    register_relations(Case, case_relations)
    register_relations(CaseAssignment, assignment_relations)
    register_relations(Review, review_relations)
    register_permission(READ, "查看事项", CASE_ROLES)
    register_permission(INTAKE, "登记事项", INTAKE_ROLES)
    register_permission(REVEAL, "查看当事人完整信息", REVEAL_ROLES)
    register_permission(EXPORT, "导出事项清单", EXPORT_ROLES)
    register_action(TRIAGE, "受理、分流、交办、转送、派单",
                    grant(STAFF, {HANDLING}))
    register_action(HANDLE, "办理（调解、起草文书、送达、上报）",
                    grant(WORKERS, {HANDLING}))
    register_action(APPROVE, "审批（签发文书、办结、延期、调解结果）",
                    grant(LEADERS, {HANDLING}))
    register_action(ASSIGN, "指定包案领导、承办人，调整风险等级",
                    grant(STAFF, {HANDLING, HANDLING_UNIT, ABOVE}))
    register_action(SUPERVISE, "督办",
                    grant(SUPERVISORS, {HANDLING, HANDLING_UNIT, ABOVE, OWNER}))
    register_action(NOTE, "记录进展、上传照片",
                    grant(CASE_ROLES, RELATIONS))
    register_action(FOLLOW_UP, "回访",
                    grant(WORKERS, {HANDLING, HANDLING_UNIT}), grant(VILLAGE_SIDE, {ORIGIN}))
    # The origin takes the petitioner's word only on a follow-up visit (case.followup); by hand, the organ.
    register_action(EVALUATE, "记录群众评价",
                    grant(WORKERS, {HANDLING, HANDLING_UNIT}))
    register_action(EVALUATED, "评价（随评价记录）",
                    grant(WORKERS, {HANDLING, HANDLING_UNIT}), grant(VILLAGE_SIDE, {ORIGIN}))
    register_action(REVIEW_REQUEST, "登记复查/复核申请",
                    grant(STAFF, {HANDLING, HANDLING_UNIT, ABOVE}))
    register_action(REVIEW_DECIDE, "作出复查/复核意见",
                    grant(LEADERS, {HANDLING}))
    register_action(ASSIGNMENT_WORK, "部门派单：响应、接办、反馈进展与结果",
                    grant(DEPARTMENT_ROLES, {FEEDBACK}))
