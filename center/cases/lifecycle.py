"""The case state machine: ONE table of allowed transitions per case kind, the permission each needs, and
the statutory deadlines each one starts or meets.

``transition(case, action, *, actor, note)`` checks the actor may see the case (404), holds the action's
permission over it (403), that the table allows the action from the current status (422), then changes
the status, writes a CaseEvent and an audit row. It never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from center.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Deadline
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.calendar.days import SHANGHAI
from core.db import db, utcnow
from core.errors import InvalidTransition, NotFound, ValidationFailed
from core.org.models import OrgUnit, UnitKind

logger = logging.getLogger(__name__)

S = CaseStatus
D, P = CaseKind.dispute, CaseKind.petition
BOTH = frozenset({D, P})

#: Who triages (accept, route, refuse) and who works a case on the handling side. Both are "case.triage"
#: until core.auth.permissions grants a separate "case.handle" to village and department roles.
TRIAGE = "case.triage"
HANDLE = "case.handle"
APPROVE = "case.approve"
#: Recording the petitioner's evaluation: staff, or the grid worker of the case's grid on a follow-up visit.
EVALUATE = "case.intake"


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[CaseStatus]
    target: CaseStatus
    permission: str
    kinds: frozenset[CaseKind] = BOTH


def _t(action, label, sources, target, permission, kinds=BOTH) -> Transition:
    return Transition(action, label, frozenset(sources), target, permission, frozenset(kinds))


TRANSITIONS: tuple[Transition, ...] = (
    _t("accept", "受理", {S.registered, S.handed_down, S.escalated}, S.accepted, TRIAGE),
    _t("not_accept", "不予受理", {S.registered, S.handed_down, S.escalated}, S.not_accepted, TRIAGE),
    _t("hand_down", "交办", {S.registered, S.accepted, S.escalated}, S.handed_down, TRIAGE),
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
    _t("evaluate", "评价", {S.closed}, S.evaluated, EVALUATE),
    _t("reopen", "重新办理", {S.closed, S.evaluated}, S.reopened, TRIAGE),
    # 诉访分离 (信访工作条例 Art. 28): guided into litigation, arbitration or reconsideration; ends the procedure.
    _t("guide_to_legal", "导入法定程序", {S.registered, S.accepted, S.in_progress}, S.guided_to_legal, TRIAGE,
       {P}),
    # 终结 after 复核: the same facts and reasons are not accepted again.
    _t("terminate", "终结", {S.closed, S.evaluated}, S.terminated, APPROVE, {P}),
)

ACTIONS = frozenset(t.action for t in TRANSITIONS)
FINAL_STATUSES = frozenset({S.not_accepted, S.guided_to_legal, S.terminated})


def transition_for(kind: CaseKind, action: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.action == action and kind in t.kinds), None)


def allowed_actions(case: Case) -> list[Transition]:
    """Transitions the state machine allows from the case's status (permissions not considered)."""
    return [t for t in TRANSITIONS if case.kind in t.kinds and case.status in t.sources]


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
    "notice": DeadlineRule("notice", "受理告知", 15),
    "answer": DeadlineRule("answer", "办结答复", 60),
    # 复查/复核 decisions: 30 days from the request (hearing time not counted: paused_days).
    "review_decision": DeadlineRule("review_decision", "复查决定", 30),
    "re_review_decision": DeadlineRule("re_review_decision", "复核决定", 30),
    # Disputes: 人民调解 is normally concluded within a month of acceptance (人民调解工作若干规定 Art. 34).
    "dispute_resolve": DeadlineRule("dispute_resolve", "调处化解", 30),
}
#: (kind, action) → rules started by it; "register" is the intake itself.
STARTS = {
    (P, "register"): ("transfer", "notice"),
    (P, "accept"): ("answer",),
    (D, "accept"): ("dispute_resolve",),
    (P, "review_requested"): ("review_decision",),
    (P, "re_review_requested"): ("re_review_decision",),
}
#: (kind, action) → rules it meets (a met deadline keeps its row, with met_at).
MEETS = {
    (P, "accept"): ("transfer", "notice"),
    (P, "not_accept"): ("transfer", "notice"),
    (P, "hand_down"): ("transfer",),
    (P, "guide_to_legal"): ("transfer", "notice", "answer"),
    (P, "answer"): ("answer",),
    (D, "answer"): ("dispute_resolve",),
    (P, "review_decided"): ("review_decision",),
    (P, "re_review_decided"): ("re_review_decision",),
}


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


def shanghai_date(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def start_deadlines(case: Case, action: str, at: datetime) -> list[Deadline]:
    """Deadline rows started by ``action`` on ``case``, counted from the Shanghai date of ``at``."""
    from core.calendar import load_calendar

    names = _triggers()[0].get((case.kind, action), ())
    if not names:
        return []
    rules, calendar, started_on = deadline_rules(), load_calendar(), shanghai_date(at)
    rows = []
    for name in names:
        rule = rules[name]
        due = (calendar.add_working_days(started_on, rule.days) if rule.working_days
               else calendar.add_calendar_days(started_on, rule.days))
        row = Deadline(case=case, rule=name, started_on=started_on, due_on=due.date, provisional=due.provisional,
                       paused_days=0, supervision_level=0)
        db.session.add(row)
        rows.append(row)
    return rows


def meet_deadlines(case: Case, action: str, at: datetime) -> list[Deadline]:
    names = _triggers()[1].get((case.kind, action), ())
    met = [d for d in case.deadlines if d.rule in names and d.met_at is None]
    for row in met:
        row.met_at = at
    return met


# --- the transition -------------------------------------------------------------------------------------

def _check_target_unit(case: Case, action: str, unit: OrgUnit | None, actor: Actor) -> OrgUnit | None:
    current = case.handling_unit
    if unit is not None and case.accused_unit is not None and unit.is_within(case.accused_unit):
        raise ValidationFailed({"unit_id": ["检举控告事项不能交给被检举控告单位或其下级单位办理"]})
    if action == "hand_down":
        if unit is None:
            raise ValidationFailed({"unit_id": ["请选择交办的单位"]})
        if unit.id == current.id or not unit.is_within(current):
            raise ValidationFailed({"unit_id": ["只能交办给本单位的下级单位"]})
        if case.kind == CaseKind.petition and unit.tier in ("village", "grid"):
            raise ValidationFailed({"unit_id": ["信访事项不能交办到村(社区)：村(居)民委员会不是信访事项的受理、办理机关"]})
        if unit.kind == UnitKind.grid:
            raise ValidationFailed({"unit_id": ["网格不是办理单位，请交办到村(社区)"]})
        require(actor, TRIAGE, unit)
        return unit
    if action == "escalate":
        unit = unit or current.parent
        if unit is None:
            raise ValidationFailed({"unit_id": ["区县已是最高层级，无法再上报"]})
        if case.accused_unit is not None and unit.is_within(case.accused_unit):
            raise ValidationFailed({"unit_id": ["检举控告事项不能交给被检举控告单位办理"]})
        if unit.id == current.id or not current.is_within(unit) or unit.kind == UnitKind.grid:
            raise ValidationFailed({"unit_id": ["只能上报给本单位的上级单位"]})
        return unit
    if unit is not None:
        raise ValidationFailed({"unit_id": ["此操作不改变办理单位"]})
    return None


def _check_consent(case: Case, consent: frozenset[str]) -> None:
    from center.cases.models import PetitionClass

    if case.petition_class != PetitionClass.appeal:
        raise ValidationFailed({"action": ["只有申诉求决类信访事项可以转人民调解（访调对接）"]})
    missing = {"applicant", "respondent"} - set(consent)
    if missing:
        raise ValidationFailed({"consent": ["转人民调解须经双方当事人同意，请确认并记录申请人和被申请人的同意"]})


def transition(case: Case, action: str, *, actor: Actor, note: str | None = None, unit: OrgUnit | None = None,
               at: datetime | None = None, consent: frozenset[str] | set[str] = frozenset()) -> CaseEvent:
    """Perform ``action`` on ``case``; ``unit`` is the target of hand_down (required) and escalate (default:
    the parent of the handling unit). ``at`` pins the time (tests, back-dated paper intake). ``consent``
    names the parties whose consent to 访调对接 was recorded ("applicant", "respondent"). ``close`` is
    refused while ``center.cases.closing.missing_for_close`` names something missing."""
    from center.cases.queries import can_see

    if not can_see(actor, case):
        raise NotFound()
    spec = transition_for(case.kind, action)
    if spec is None:
        raise InvalidTransition(f"{'信访事项' if case.kind == P else '矛盾纠纷'}没有“{action}”这一操作")
    require(actor, spec.permission, case)
    if case.status not in spec.sources:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，不能执行“{spec.label}”")
    target_unit = _check_target_unit(case, action, unit, actor)
    if action == "refer_mediation":
        _check_consent(case, consent)
    if action == "close":
        from center.cases.closing import missing_for_close

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
    meet_deadlines(case, action, at)
    started = start_deadlines(case, action, at)
    if started:
        changed.append("deadlines")
    if action == "refer_mediation":
        changed += [f"consent.{who}" for who in sorted(consent)]
    event = CaseEvent(case=case, actor_user_id=actor.user_id, at=at, action=action, from_status=from_status,
                      to_status=spec.target, note=note, changed_fields=changed)
    db.session.add(event)
    db.session.flush()
    record(actor, f"case.{action}", case, unit_id=case.handling_unit_id, changed=changed)
    from center.cases.registry import transition_listeners

    for listener in transition_listeners:
        listener(case, event, actor)
    logger.info("case %s %s by %s", case.number, action, actor)
    return event
