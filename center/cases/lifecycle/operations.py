"""The case state machine: ONE table of allowed transitions per case kind, the permission each needs, and
the statutory deadlines each one starts or meets.

``transition(case, action, *, actor, note)`` checks the actor may see the case (404), holds the action's
permission over it (403), that the table allows the action from the current status (422), then changes
the status, writes a CaseEvent and an audit row. It never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from center.cases import permissions
from center.cases.lifecycle.clock import shanghai_date  # noqa: F401 - the one Shanghai-date helper, re-exported
from center.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Deadline
from core.actor import Actor
from core.auth.permissions import require
from core.db import db, utcnow
from core.errors import InvalidTransition, NotFound, ValidationFailed
from core.org.models import Department, OrgUnit
from core.work import timeline
from notify.render import shorten

#: Longest note on a transition (a reason, a remark).
NOTE_MAX = 2000

logger = logging.getLogger(__name__)

S = CaseStatus
D, P = CaseKind.dispute, CaseKind.petition
BOTH = frozenset({D, P})

#: Who triages (accept, route, refuse), works and approves on the handling side, and who records the
#: petitioner's evaluation: each held in its relation to the case (center.cases.permissions).
TRIAGE, HANDLE, APPROVE, EVALUATE = (permissions.TRIAGE, permissions.HANDLE, permissions.APPROVE,
                                     permissions.EVALUATE)


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[CaseStatus]
    target: CaseStatus
    permission: str
    kinds: frozenset[CaseKind] = BOTH
    #: Reached only through the operation that makes its record (评价 → an Evaluation row; 终结 → a 复核
    #: decision): never offered as a free transition on the case page, and refused by ``transition`` without
    #: the record, whatever the channel.
    by_record: bool = False


def _t(action, label, sources, target, permission, kinds=BOTH, by_record=False) -> Transition:
    return Transition(action, label, frozenset(sources), target, permission, frozenset(kinds), by_record)


TRANSITIONS: tuple[Transition, ...] = (
    _t("accept", "受理", {S.registered, S.handed_down, S.escalated}, S.accepted, TRIAGE),
    _t("not_accept", "不予受理", {S.registered, S.handed_down, S.escalated}, S.not_accepted, TRIAGE),
    _t("hand_down", "交办", {S.registered, S.accepted, S.escalated}, S.handed_down, TRIAGE),
    # 转送/交办 to the competent organ (信访工作条例 Art. 31–33): the department accepts, handles and answers in
    # its own name; the handling unit keeps the scope. The department may send back what is not its remit.
    _t("transfer", "转送部门办理", {S.registered, S.escalated, S.handed_down}, S.handed_down, TRIAGE),
    _t("return", "退回（非本部门职责）", {S.handed_down}, S.registered, TRIAGE),
    # The handling side escalates (小事不出村、大事不出镇): a village that cannot resolve a dispute sends it up.
    _t("escalate", "上报", {S.registered, S.accepted, S.handed_down, S.in_progress, S.mediating, S.reopened},
       S.escalated, HANDLE),
    _t("start", "开始办理", {S.accepted, S.reopened}, S.in_progress, HANDLE),
    _t("mediate", "开始调解", {S.accepted, S.in_progress, S.reopened}, S.mediating, HANDLE, {D}),
    # 访调对接: a 申诉求决类 civil matter goes to people's mediation with both parties' consent (checked in
    # ``transition``); it then closes on its mediation outcome like a dispute.
    _t("refer_mediation", "转人民调解", {S.accepted, S.in_progress}, S.mediating, TRIAGE, {P}),
    _t("answer", "答复", {S.in_progress, S.mediating}, S.answered, HANDLE, {P}),
    _t("answer", "出具调处结果", {S.in_progress, S.mediating}, S.answered, HANDLE, {D}),
    _t("close", "办结", {S.answered}, S.closed, APPROVE),
    _t("evaluate", "评价", {S.closed}, S.evaluated, permissions.EVALUATED, by_record=True),
    _t("reopen", "重新办理", {S.closed, S.evaluated}, S.reopened, TRIAGE),
    # 诉访分离 (信访工作条例 Art. 28): guided into litigation, arbitration or reconsideration; ends the procedure.
    _t("guide_to_legal", "导入法定程序", {S.registered, S.accepted, S.in_progress}, S.guided_to_legal, TRIAGE,
       {P}),
    # 终结 after 复核: the same facts and reasons are not accepted again.
    _t("terminate", "终结", {S.closed, S.evaluated}, S.terminated, APPROVE, {P}, by_record=True),
)

ACTIONS = frozenset(t.action for t in TRANSITIONS)
FINAL_STATUSES = frozenset({S.not_accepted, S.guided_to_legal, S.terminated})


def transition_for(kind: CaseKind, action: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.action == action and kind in t.kinds), None)


def allowed_actions(case: Case) -> list[Transition]:
    """Free transitions the state machine allows from the case's status (permissions not considered): the
    ones a form may offer. By-record transitions (评价, 终结) come from their own operations."""
    offered = [t for t in TRANSITIONS if case.kind in t.kinds and case.status in t.sources and not t.by_record
               and t.action not in _organ_refusal(case)]
    if case.kind == P and any(t.action == "answer" for t in offered):
        from center.cases.lifecycle.closing import approved_answer

        if approved_answer(case) is None:  # 答复 is offered once the answer is approved (文书与送达)
            offered = [t for t in offered if t.action != "answer"]
    return offered


#: Steps that move the case between units: not for a department that is the handling organ (it answers the
#: case in its own name or sends it back).
UNIT_MOVES = frozenset({"hand_down", "escalate", "transfer"})


def _organ_refusal(case: Case) -> dict[str, str]:
    """Actions refused by who the organ is, with the reason."""
    if case.handling_department_id is not None:
        return {a: "事项已转送部门办理，由该部门答复或退回" for a in UNIT_MOVES}
    return {"return": "事项未转送部门，无需退回"}


# --- statutory clock ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeadlineRule:
    rule: str
    label: str
    days: int
    working_days: bool = False


#: Default rules (信访工作条例 2022); ``CASE_DEADLINE_RULES`` in the app config ({rule: {days, working_days,
#: label}}) overrides or adds rules, and ``CASE_DEADLINE_TRIGGERS`` the starting and meeting actions.
DEADLINE_RULES = {
    "transfer": DeadlineRule("transfer", "转送/交办", 15),
    # Met by the approved 受理告知书 (or 不予受理告知书), on its issue date: the petitioner is told in writing.
    "notice": DeadlineRule("notice", "受理告知", 15),
    # Met by the approved 答复意见书 / 信访处理意见书, on its issue date; extendable once by 30 days.
    "answer": DeadlineRule("answer", "办结答复", 60),
    # 复查/复核 decisions: 30 days from the request (hearing time not counted: paused_days).
    "review_decision": DeadlineRule("review_decision", "复查决定", 30),
    "re_review_decision": DeadlineRule("re_review_decision", "复核决定", 30),
    # Disputes: 受理 within a few working days of registration or hand-down (configurable through
    # CASE_DEADLINE_RULES), so a grid worker's 代办 filing never waits without a clock; then 人民调解 is normally
    # concluded within a month of acceptance (人民调解工作若干规定 Art. 34), met by the agreement or 调解不成.
    "dispute_accept": DeadlineRule("dispute_accept", "纠纷受理", 3, working_days=True),
    "dispute_resolve": DeadlineRule("dispute_resolve", "调处化解", 30),
    # The petitioner's windows (center.cases.lifecycle.clock: never supervised, never lateness).
    "review_window": DeadlineRule("review_window", "申请复查", 30),
    "re_review_window": DeadlineRule("re_review_window", "申请复核", 30),
}
#: (kind, action) → rules started by it; "register" is the intake itself.
STARTS = {
    (P, "register"): ("transfer", "notice"),
    (D, "register"): ("dispute_accept",),
    (P, "accept"): ("answer",),
    (D, "accept"): ("dispute_resolve",),
    (P, "review_requested"): ("review_decision",),
    (P, "re_review_requested"): ("re_review_decision",),
}
#: (kind, action) → rules the transition itself meets (a met deadline keeps its row, with met_at). The
#: notice, the answer and the dispute's resolution are met by their documents and outcomes instead
#: (center.cases.documents.operations.approve_document, center.cases.mediation.operations.record_outcome).
MEETS = {
    (P, "accept"): ("transfer",),
    (P, "not_accept"): ("transfer",),
    (P, "hand_down"): ("transfer",),
    (P, "transfer"): ("transfer",),
    (P, "guide_to_legal"): ("transfer", "notice", "answer"),
    (D, "accept"): ("dispute_accept",),
    (D, "not_accept"): ("dispute_accept",),
    (P, "review_decided"): ("review_decision",),
    (P, "re_review_decided"): ("re_review_decision",),
}
#: Rules whose rows are the petitioner's windows, not the handling side's duties.
WINDOW_RULES = frozenset({"review_window", "re_review_window"})


def deadline_rules() -> dict[str, DeadlineRule]:
    from flask import current_app

    rules = dict(DEADLINE_RULES)
    for name, spec in (current_app.config.get("CASE_DEADLINE_RULES") or {}).items():
        rules[name] = DeadlineRule(name, spec.get("label", name), int(spec["days"]),
                                   bool(spec.get("working_days", False)))
    return rules


def _triggers() -> tuple[dict, dict]:
    from flask import current_app

    custom = current_app.config.get("CASE_DEADLINE_TRIGGERS") or {}
    starts = {**STARTS, **{(CaseKind(k), a): tuple(v) for (k, a), v in custom.get("starts", {}).items()}}
    meets = {**MEETS, **{(CaseKind(k), a): tuple(v) for (k, a), v in custom.get("meets", {}).items()}}
    return starts, meets


def start_deadlines(case: Case, action: str, at: datetime) -> list[Deadline]:
    """Deadline rows started by ``action`` on ``case``, counted from the Shanghai date of ``at`` and held by
    the handling organ (center.cases.lifecycle.clock)."""
    from center.cases.lifecycle import clock

    names = _triggers()[0].get((case.kind, action), ())
    return clock.start(case, names, at) if names else []


def meet_deadlines(case: Case, action: str, at: datetime) -> list[Deadline]:
    from center.cases.lifecycle import clock

    names = _triggers()[1].get((case.kind, action), ())
    return clock.meet(case, names, at, action) if names else []


# --- the transition -------------------------------------------------------------------------------------

def _check_target_unit(case: Case, action: str, unit: OrgUnit | None) -> OrgUnit | None:
    current = case.handling_unit
    if unit is not None and case.accused_unit is not None and unit.is_within(case.accused_unit):
        raise ValidationFailed({"unit_id": ["检举控告事项不能交给被检举控告单位或其下级单位办理"]})
    if action == "hand_down":
        if unit is None:
            raise ValidationFailed({"unit_id": ["请选择交办的单位"]})
        from center.cases.routing.units import hand_down_refusal

        refusal = hand_down_refusal(case, unit)
        if refusal:
            raise ValidationFailed({"unit_id": [refusal]})
        return unit
    if action == "escalate":
        unit = unit or current.parent
        if unit is None:
            raise ValidationFailed({"unit_id": ["区县已是最高层级，无法再上报"]})
        from center.cases.routing.units import escalation_targets, unstaffed_refusal

        if unit.id not in {u.id for u in escalation_targets(case, staffed_only=False)}:
            raise ValidationFailed({"unit_id": ["只能上报给本单位的上级单位"]})
        refusal = unstaffed_refusal(unit, "上报")  # no dead end upwards either
        if refusal:
            raise ValidationFailed({"unit_id": [refusal]})
        return unit
    if unit is not None:
        raise ValidationFailed({"unit_id": ["此操作不改变办理单位"]})
    return None


def transfer_departments(case: Case) -> list[Department]:
    """Departments a ``transfer`` may go to: active, at the handling unit's center, with someone to receive it."""
    from center.departments.operations import department_users

    if case.handling_department_id is not None:
        return []
    rows = db.session.scalars(select(Department).where(Department.unit_id == case.handling_unit_id,
                                                       Department.is_active.is_(True)).order_by(Department.id))
    return [d for d in rows if department_users(d)
            and not (case.accused_unit is not None and d.unit.is_within(case.accused_unit))]


def _check_department(case: Case, action: str, department: Department | None) -> Department | None:
    """转送: to an active department stationed at the handling unit's own center (the competent organ of
    that tier); a case of another tier is escalated or handed down first."""
    if action != "transfer":
        if department is not None:
            raise ValidationFailed({"department_id": ["此操作不涉及部门"]})
        return None
    if department is None:
        raise ValidationFailed({"department_id": ["请选择转送的部门（有权处理的机关）"]})
    if department.unit_id != case.handling_unit_id or not department.is_active:
        raise ValidationFailed({"department_id": [f"只能转送{case.handling_unit.name}矛调中心的在岗部门"]})
    if case.accused_unit is not None and department.unit.is_within(case.accused_unit):
        raise ValidationFailed({"department_id": ["检举控告事项不能转送被检举控告单位的部门"]})
    from center.departments.operations import department_users

    if not department_users(department):
        raise ValidationFailed({"department_id": [f"{department.name}没有在岗的联络员或负责人，无法转送"]})
    return department


def _check_record(case: Case, action: str) -> None:
    """评价 and 终结 are not free transitions: each follows its record, through every channel."""
    if action == "evaluate":
        from center.cases.aftercare.operations import latest_result_evaluation

        if latest_result_evaluation(case) is None:
            raise InvalidTransition("评价须记录信访人（申请人）对办理结果的评价：请在“评价与回访”中登记")
    elif action == "terminate":
        from center.cases.models import Review, ReviewDecision, ReviewLevel

        decided = db.session.scalar(select(Review).where(
            Review.case_id == case.id, Review.level == ReviewLevel.re_review, Review.decision.is_not(None),
            Review.decision != ReviewDecision.revoked))
        if decided is None:
            raise InvalidTransition("终结须在复核意见作出之后：本事项没有维持原处理意见的复核决定")


def _check_answer(case: Case) -> None:
    """答复 is the approved answer document of the current organ (its issue date met the answer deadline)."""
    from center.cases.lifecycle.closing import approved_answer

    if approved_answer(case) is None:
        raise InvalidTransition("不能答复：缺少本办理机关经领导审批印发的答复意见书（信访处理意见书）。"
                                "请在“文书与送达”中起草并报负责人审批")


def _compose_note(case: Case, action: str, note: str | None, legal_channel: str | None) -> str | None:
    """Rules of the note itself: 不予受理 states its reason (it goes into the 不予受理告知); 导入法定程序 names
    the legal channel (诉访分离, 信访工作条例 Art. 28)."""
    from center.cases.intake.schemas import LEGAL_CHANNELS

    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [f"说明不能超过 {NOTE_MAX} 个字"]})
    if action == "not_accept" and note is None:
        raise ValidationFailed({"note": ["请填写不予受理的理由（将写入不予受理告知）"]})
    if action == "return" and note is None:
        raise ValidationFailed({"note": ["请填写退回的理由（为何不属本部门职责）"]})
    if action == "guide_to_legal":
        if legal_channel not in LEGAL_CHANNELS:
            raise ValidationFailed({"legal_channel": ["请选择导入的法定途径：诉讼、仲裁或行政复议"]})
        return f"导入{LEGAL_CHANNELS[legal_channel]}程序" + (f"：{note}" if note else "")
    if legal_channel is not None:
        raise ValidationFailed({"legal_channel": ["只有导入法定程序时填写法定途径"]})
    return note


def _check_consent(case: Case, consent: frozenset[str]) -> None:
    from center.cases.models import PetitionClass

    if case.petition_class != PetitionClass.appeal:
        raise ValidationFailed({"action": ["只有申诉求决类信访事项可以转人民调解（访调对接）"]})
    missing = {"applicant", "respondent"} - set(consent)
    if missing:
        raise ValidationFailed({"consent": ["转人民调解须经双方当事人同意，请确认并记录申请人和被申请人的同意"]})


def transition(case: Case, action: str, *, actor: Actor, note: str | None = None, unit: OrgUnit | None = None,
               at: datetime | None = None, consent: frozenset[str] | set[str] = frozenset(),
               department: Department | None = None, legal_channel: str | None = None) -> CaseEvent:
    """Perform ``action`` on ``case``; ``unit`` is the target of hand_down (required) and escalate (default:
    the parent of the handling unit). ``at`` pins the time (tests, back-dated paper intake). ``consent``
    names the parties whose consent to 访调对接 was recorded ("applicant", "respondent"); ``department`` is
    the competent organ a ``transfer`` goes to; ``legal_channel`` the route of ``guide_to_legal``. ``close``
    is refused while ``center.cases.lifecycle.closing.missing_for_close`` names something missing; ``evaluate`` and
    ``terminate`` without their record."""
    from center.cases.queries import can_see

    if not can_see(actor, case):
        raise NotFound()
    spec = transition_for(case.kind, action)
    if spec is None:
        raise InvalidTransition(f"{'信访事项' if case.kind == P else '矛盾纠纷'}没有“{action}”这一操作")
    require(actor, spec.permission, case)
    if case.status not in spec.sources:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，不能执行“{spec.label}”")
    refusal = _organ_refusal(case).get(action)
    if refusal:
        raise InvalidTransition(refusal)
    if spec.by_record:
        _check_record(case, action)
    target_unit = _check_target_unit(case, action, unit)
    target_department = _check_department(case, action, department)
    note = _compose_note(case, action, note, legal_channel)
    if action == "refer_mediation":
        _check_consent(case, consent)
    if action == "answer" and case.kind == P:
        _check_answer(case)
    if action == "close":
        from center.cases.lifecycle.closing import missing_for_close

        missing = missing_for_close(case)
        if missing:
            raise InvalidTransition("不能办结：" + "；".join(missing))
    at = at or utcnow()
    changed = ["status"]
    from_status = case.status
    case.status = spec.target
    if target_unit is not None:
        case.handling_unit = target_unit
        changed.append("handling_unit_id")
    if action in ("transfer", "return"):
        case.handling_department = target_department
        changed.append("handling_department_id")
        if target_department is not None:
            note = f"转送{target_department.name}" + (f"：{note}" if note else "")
    meet_deadlines(case, action, at)
    from center.cases.lifecycle import clock

    started = clock.move(case, action, at) + start_deadlines(case, action, at)
    if started:
        changed.append("deadlines")
    if action == "refer_mediation":
        changed += [f"consent.{who}" for who in sorted(consent)]
    event = timeline.log(case, action, actor=actor, at=at, note=note, changed=changed, from_status=from_status,
                         to_status=spec.target)
    from center.cases.registry import transition_listeners

    for listener in transition_listeners:
        listener(case, event, actor)
    if target_department is not None:
        _notify_organ(case, target_department, event)
    logger.info("case %s %s by %s", case.number, action, actor)
    return event


def _notify_organ(case: Case, department: Department, event: CaseEvent) -> None:
    """The department that becomes the handling organ hears of it (its liaisons and head)."""
    from center.cases.queries import hearers
    from center.departments.operations import department_users
    from notify.outbox import enqueue

    for user in hearers(case, department_users(department)):
        enqueue("case.transferred", user,
                {"title": f"转送办理：{case.number}", "body": shorten(case.summary, 60), "url": f"/cases/{case.number}",
                 "number": case.number},
                key=f"case-transfer-{case.id}-{event.id}-{user.id}")
