"""Mediation (三调联动, DOMAIN.md §2): sessions, their outcome and its approval by the handling unit's leader.

A dispute — or a 申诉求决类 petition referred to people's mediation (访调对接) — is mediated in one or more
sessions. A session's outcome is 调解成功 with the agreement's text (调解协议书) or 调解不成 with the legal
channel the parties were guided to. A failed session may be followed by another one. Once the handling unit's
leader approved an outcome (the village head for a village, a township leader for a township, a district
leader for the district — a membership exactly at the handling unit), ``center.cases.lifecycle.closing`` lets the case
close: the generic "answer" (出具调处结果) and "close" transitions, or ``approve_and_close`` in one step.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from center.cases.lifecycle import operations as lifecycle
from center.cases.lifecycle.closing import organ_since
from center.cases.models import (
    MEDIATION_OUTCOME_LABELS,
    MEDIATION_TYPE_LABELS,
    Case,
    CaseKind,
    CaseStatus,
    MediationOutcome,
    MediationSession,
    MediationType,
)
from center.cases.queries import require_visible
from core.accounts.models import ROLE_LABELS, Membership, Role
from core.accounts.queries import leader_role as tier_leader_role
from core.actor import Actor
from core.auth.permissions import can, require
from core.db import db, utcnow
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.work import timeline

logger = logging.getLogger(__name__)

S = CaseStatus
#: Statuses in which sessions are held and outcomes recorded.
MEDIATING = frozenset({S.mediating, S.in_progress})
#: An outcome may still be approved once the result was issued (出具调处结果), before the case closes.
APPROVABLE = MEDIATING | {S.answered}
PLACE_MAX, MEDIATORS_MAX = 100, 200
TEXT_MAX = 5000
#: Clock skew allowed between a phone's clock and the server's for "not in the future".
SKEW = timedelta(minutes=5)


def is_mediation_case(case: Case) -> bool:
    """Disputes, and petitions referred to people's mediation (访调对接)."""
    return case.kind == CaseKind.dispute or case.mediation_referred


def sessions_of(case: Case) -> list[MediationSession]:
    from sqlalchemy import select

    return list(db.session.scalars(select(MediationSession).where(MediationSession.case_id == case.id)
                                   .order_by(MediationSession.held_at, MediationSession.id)))


def clean_text(value: str | None, field: str, label: str, errors: dict, *, required=False,
               limit=TEXT_MAX) -> str | None:
    """Strip a free-text input; a missing required one or one over ``limit`` adds a Chinese message to
    ``errors`` (the caller raises them together). Shared by the mediation, aftercare and review operations."""
    value = (value or "").strip() or None
    if value is None and required:
        errors[field] = [f"请填写{label}"]
    elif value is not None and len(value) > limit:
        errors[field] = [f"{label}不能超过 {limit} 个字"]
    return value


def _check_mediating(case: Case, statuses=MEDIATING) -> None:
    if not is_mediation_case(case):
        raise InvalidTransition("信访事项须经双方当事人同意转人民调解（访调对接）后才能记录调解")
    if case.status not in statuses:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，不能记录调解")


def record_session(case: Case, *, actor: Actor, mediation_type: str, held_at: datetime, place: str | None,
                   mediators: str, participants: str | None = None, notes: str | None = None) -> MediationSession:
    """A mediation session held on ``case`` (case.handle over it; the case mediating or in progress)."""
    require_visible(actor, case)
    require(actor, lifecycle.HANDLE, case)
    _check_mediating(case)
    errors: dict[str, list[str]] = {}
    try:
        kind = MediationType(mediation_type)
    except ValueError:
        errors["mediation_type"] = ["请选择调解类型"]
        kind = None
    if held_at is None or held_at.tzinfo is None:
        errors["held_at"] = ["请填写调解时间"]
    elif held_at > utcnow() + SKEW:
        errors["held_at"] = ["调解时间不能晚于现在"]
    elif held_at < case.received_at - timedelta(days=1):
        errors["held_at"] = ["调解时间不能早于事项登记时间"]
    place = clean_text(place, "place", "调解地点", errors, limit=PLACE_MAX)
    mediators = clean_text(mediators, "mediators", "调解员", errors, required=True, limit=MEDIATORS_MAX)
    participants = clean_text(participants, "participants", "参加人员", errors)
    notes = clean_text(notes, "notes", "调解情况", errors)
    if errors:
        raise ValidationFailed(errors)
    session = MediationSession(case=case, mediation_type=kind, held_at=held_at, place=place, mediators=mediators,
                               participants=participants, notes=notes, recorded_by_user_id=actor.user_id)
    db.session.add(session)
    changed = ["mediation_type", "held_at", "place", "mediators", "participants", "notes"]
    timeline.log(case, "mediation_session", actor=actor, note=f"{MEDIATION_TYPE_LABELS[kind]}：{mediators}",
                 changed=changed, audit_object=session)
    logger.info("case %s mediation session %s by %s", case.number, session.id, actor)
    return session


def record_outcome(session: MediationSession, *, actor: Actor, outcome: str, agreement: str | None = None,
                   guidance: str | None = None) -> MediationSession:
    """调解成功 needs the agreement's text; 调解不成 the legal channel the parties were guided to. An outcome
    not yet approved may be corrected; an approved one is final."""
    case = session.case
    require_visible(actor, case)
    require(actor, lifecycle.HANDLE, case)
    _check_mediating(case, APPROVABLE)  # the result may have been issued (出具调处结果) before it was recorded
    if session.approved_at is not None:
        raise InvalidTransition("该次调解的结果已经审核，不能再修改")
    errors: dict[str, list[str]] = {}
    try:
        result = MediationOutcome(outcome)
    except ValueError:
        errors["outcome"] = ["请选择调解结果"]
        result = None
    if result == MediationOutcome.success:
        agreement = clean_text(agreement, "agreement", "调解协议内容", errors, required=True)
        guidance = None
    elif result == MediationOutcome.failure:
        guidance = clean_text(guidance, "guidance", "引导当事人通过何种法定途径解决（诉讼、仲裁等）", errors,
                               required=True)
        agreement = None
    if errors:
        raise ValidationFailed(errors)
    corrected = session.outcome is not None
    session.outcome, session.agreement, session.guidance = result, agreement, guidance
    changed = ["outcome", "agreement" if result == MediationOutcome.success else "guidance"]
    note = MEDIATION_OUTCOME_LABELS[result] + ("（更正）" if corrected else "")
    timeline.log(case, "mediation_outcome", actor=actor, note=note, changed=changed, audit_object=session)
    _meet_resolution(case, session)
    return session


def _meet_resolution(case: Case, session: MediationSession) -> None:
    """A dispute's 调处化解 deadline is met by the recorded agreement (调解协议) or 调解不成, on the day the session
    was held: the named act, not the status change. A session from before the last move meets nothing now."""
    from center.cases.lifecycle import clock

    since = organ_since(case)
    if case.kind != CaseKind.dispute or (since is not None and session.held_at < since):
        return
    act = "agreement" if session.outcome == MediationOutcome.success else "mediation_failed"
    clock.meet(case, ["dispute_resolve"], session.held_at, act)


def leader_role(case: Case) -> Role | None:
    """Who leads the handling unit: the one who approves a mediation outcome of a case it handles."""
    return tier_leader_role(case.handling_unit.tier)


def leader_membership(actor: Actor, case: Case) -> Membership | None:
    """The actor's membership as leader of the handling organ (exactly at that unit; the department's head when
    a department is the organ), if any."""
    if case.handling_department_id is not None:
        return next((m for m in actor.memberships if m.department_id == case.handling_department_id
                     and m.role == Role.department_head), None)
    role = leader_role(case)
    return next((m for m in actor.memberships if m.unit_id == case.handling_unit_id and m.role == role), None)


def may_approve(actor: Actor, case: Case) -> bool:
    return leader_membership(actor, case) is not None and can(actor, lifecycle.APPROVE, case)


def approve_outcome(session: MediationSession, *, actor: Actor, at: datetime | None = None) -> MediationSession:
    """The handling unit's leader approves the session's outcome: the case may then close on it."""
    case = session.case
    require_visible(actor, case)
    if not may_approve(actor, case):
        role = leader_role(case)
        who = ROLE_LABELS[role] if role else "负责人"
        raise PermissionDenied(f"调解结果须由办理单位（{case.handling_unit.name}）的负责人（{who}）审核",
                               action=lifecycle.APPROVE)
    if session.outcome is None:
        raise InvalidTransition("该次调解尚未记录结果，不能审核")
    if session.approved_at is not None:
        raise InvalidTransition("该次调解的结果已经审核")
    since = organ_since(case)
    if since is not None and session.held_at < since:
        raise InvalidTransition("该次调解由原办理单位进行，现办理机关须自行组织调解并审核结果")
    if sessions_of(case)[-1].id != session.id:
        raise InvalidTransition("此后又进行了调解，请审核最近一次调解的结果")
    if case.status not in APPROVABLE:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，不能审核调解结果")
    at = at or utcnow()
    session.approved_by_user_id, session.approved_at = actor.user_id, at
    changed = ["approved_by_user_id", "approved_at"]
    timeline.log(case, "mediation_approved", actor=actor, at=at, note=MEDIATION_OUTCOME_LABELS[session.outcome],
                 changed=changed, audit_object=session)
    logger.info("case %s mediation outcome %s approved by %s", case.number, session.id, actor)
    return session


def may_approve_and_close(actor: Actor, case: Case) -> bool:
    """审核并办结 needs the approver to also issue the result (出具调处结果) unless it was issued already."""
    return may_approve(actor, case) and (case.status == S.answered or can(actor, lifecycle.HANDLE, case))


def approve_and_close(session: MediationSession, *, actor: Actor, note: str | None = None,
                      at: datetime | None = None) -> MediationSession:
    """审核并办结: approve the outcome, issue the result (answer) if not yet issued, and close — one operation,
    each step its own event, all through ``lifecycle.transition`` (its permission checks included)."""
    case = session.case
    require_visible(actor, case)
    if may_approve(actor, case) and not may_approve_and_close(actor, case):
        raise PermissionDenied("您可以审核调解结果，但出具调处结果须由办理人员操作：请先审核，再由办理人员出具结果后办结",
                               action=lifecycle.HANDLE)
    approve_outcome(session, actor=actor, at=at)
    if case.status != S.answered:
        lifecycle.transition(case, "answer", actor=actor, note=note, at=at)
    lifecycle.transition(case, "close", actor=actor, note=note, at=at)
    return session
