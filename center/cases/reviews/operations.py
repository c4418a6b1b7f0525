"""复查/复核 (DOMAIN.md §2, 信访工作条例 Art. 35) and the 终结 that follows a 复核.

The petitioner asks the organ one level up within 30 days of receiving the answer (service date) — 复核
within 30 days of the 复查 decision; the organ decides within 30 days (the clock of
``center.cases.lifecycle.operations``), hearing (听证) time not counted. The organ is a unit of the platform
(the answering unit's parent) or an organ outside it, recorded by name and reference.
Consequences of a decision, performed on the platform's behalf (system actor, right after the decision's
event that names its decider, because they follow from the organ's decision, not from the recorder's
discretion — the recorder may hold neither case.triage nor case.approve over the case): 撤销 → the case is
reopened (重新办理); any other 复核 decision → 终结 (the same facts and reasons are not accepted again).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from sqlalchemy import select

from center.cases.aftercare.operations import CLOSED, enum_value
from center.cases.lifecycle import operations as lifecycle
from center.cases.lifecycle.closing import approved_answer, service_of
from center.cases.lifecycle.operations import shanghai_date
from center.cases.mediation.operations import clean_text
from center.cases.models import (
    REVIEW_DECISION_LABELS,
    REVIEW_LEVEL_LABELS,
    Case,
    CaseKind,
    Deadline,
    Review,
    ReviewDecision,
    ReviewLevel,
)
from center.cases.queries import require_visible
from core.actor import Actor
from core.auth.permissions import can, require
from core.calendar.days import SHANGHAI
from core.db import db, utcnow
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.org.models import OrgUnit
from core.work import timeline

logger = logging.getLogger(__name__)

REVIEW_WINDOW_DAYS = 30
EXTERNAL_MAX, REFERENCE_MAX = 100, 64
PAUSE_MAX = 90
RULE = {ReviewLevel.review: "review_decision", ReviewLevel.re_review: "re_review_decision"}
REQUESTED = {ReviewLevel.review: "review_requested", ReviewLevel.re_review: "re_review_requested"}
DECIDED = {ReviewLevel.review: "review_decided", ReviewLevel.re_review: "re_review_decided"}


def _today() -> date:
    return shanghai_date(utcnow())


def _on(day: date) -> datetime:
    """A date as an instant for the clock (noon Asia/Shanghai), never later than now."""
    return min(datetime.combine(day, time(12), tzinfo=SHANGHAI), utcnow())


def reviews_of(case: Case) -> dict[ReviewLevel, Review]:
    rows = db.session.scalars(select(Review).where(Review.case_id == case.id))
    return {r.level: r for r in rows}


def answering_unit(case: Case) -> OrgUnit:
    doc = approved_answer(case)
    return doc.organ_unit if doc is not None else case.handling_unit


def platform_organ(case: Case, level: ReviewLevel) -> OrgUnit | None:
    """The unit one level up, when it is on the platform: the answering unit's parent for 复查, the 复查
    organ's parent for 复核. None: the organ one level up is outside the platform."""
    if level == ReviewLevel.review:
        doc = approved_answer(case)
        if doc is not None and doc.organ_department is not None:
            # A department's answer is reviewed by the people's government of its own level (信访工作条例
            # Art. 35), which the answer itself names: the unit the department is stationed at.
            return doc.organ_department.unit
        return answering_unit(case).parent
    review = reviews_of(case).get(ReviewLevel.review)
    if review is None or review.organ_unit is None:
        return None
    return review.organ_unit.parent


#: The petitioner's window row of each level (center.cases.lifecycle.clock).
WINDOW_RULE = {ReviewLevel.review: "review_window", ReviewLevel.re_review: "re_review_window"}


def review_window(case: Case, level: ReviewLevel) -> tuple[date, date] | None:
    """(from, last day) in which the petitioner may ask for 复查 (from the service of the answer) or 复核
    (from the 复查 decision): 30 calendar days from the day after, rolled to a working day. None: not open."""
    from core.calendar import load_calendar

    if case.kind != CaseKind.petition:
        return None
    if level == ReviewLevel.review:
        doc = approved_answer(case)
        service = service_of(doc) if doc is not None else None
        start = service.served_on if service is not None else None
    else:
        review = reviews_of(case).get(ReviewLevel.review)
        start = review.decided_on if review is not None and review.decision != ReviewDecision.revoked else None
    if start is None:
        return None
    # The window row (center.cases.lifecycle.clock) carries the recomputed end once the holiday table is published.
    rule = WINDOW_RULE[level]
    row = next((d for d in reversed(case.deadlines) if d.rule == rule and d.started_on == start), None)
    if row is not None:
        return start, row.due_on
    return start, load_calendar().add_calendar_days(start, REVIEW_WINDOW_DAYS).date


def _refuse_request(case: Case, level: ReviewLevel) -> str | None:
    """Why a 复查/复核 cannot be asked for on this case now (None: it can)."""
    label = REVIEW_LEVEL_LABELS[level]
    if case.kind != CaseKind.petition:
        return "只有信访事项可以申请复查、复核"
    if case.status not in CLOSED:
        return f"事项当前状态为“{case.status_label}”，办结并送达答复意见后才能申请{label}"
    reviews = reviews_of(case)
    if level in reviews:
        return f"本事项已申请过{label}"
    if level == ReviewLevel.review:
        if review_window(case, level) is None:
            return "答复意见书尚未送达（或本事项以调解结果办结），复查期限无从起算"
    else:
        review = reviews.get(ReviewLevel.review)
        if review is None or review.decision is None:
            return "须在复查机关作出复查意见后才能申请复核"
        if review.decision == ReviewDecision.revoked:
            return "复查意见已撤销原处理意见并责成重新办理，不能申请复核"
    return None


def can_request(case: Case, level: ReviewLevel) -> bool:
    return _refuse_request(case, level) is None


def request_review(case: Case, *, actor: Actor, level: str, requested_on: date, organ_unit: OrgUnit | None = None,
                   external_organ: str | None = None, external_reference: str | None = None,
                   at: datetime | None = None) -> Review:
    """Record the petitioner's request for 复查/复核 (case.review_request: the handling organ, or the
    organ above, whose members cover it too) and start the decision deadline."""
    from center.cases.permissions import REVIEW_REQUEST

    require_visible(actor, case)
    require(actor, REVIEW_REQUEST, case)
    errors: dict[str, list[str]] = {}
    level = enum_value(ReviewLevel, level, "level", "请选择复查或复核", errors)
    if errors:
        raise ValidationFailed(errors)
    refusal = _refuse_request(case, level)
    if refusal:
        raise InvalidTransition(refusal)
    label = REVIEW_LEVEL_LABELS[level]
    first, last = review_window(case, level)
    if not isinstance(requested_on, date):
        errors["requested_on"] = ["请填写申请日期"]
    elif requested_on > _today():
        errors["requested_on"] = ["申请日期不能晚于今天"]
    elif requested_on < first:
        errors["requested_on"] = [f"申请日期不能早于{'答复意见送达' if level == ReviewLevel.review else '复查意见作出'}"
                                  f"之日（{first:%Y-%m-%d}）"]
    elif requested_on > last:
        since = "收到答复意见" if level == ReviewLevel.review else "收到复查意见"
        errors["requested_on"] = [f"已超过{label}申请期限：应自{since}之日起 30 日内提出（最后一日为 {last:%Y-%m-%d}），"
                                  f"不予受理"]
    external_organ = clean_text(external_organ, "external_organ", f"{label}机关名称", errors, limit=EXTERNAL_MAX)
    external_reference = clean_text(external_reference, "external_reference", "平台外机关的文号或编号", errors,
                               limit=REFERENCE_MAX)
    expected = platform_organ(case, level)
    if (organ_unit is None) == (external_organ is None):
        errors["organ"] = [f"请选择{label}机关：本平台的上一级单位，或填写平台外机关名称（二者选一）"]
    elif external_organ is not None and expected is not None:
        # the organ one level up is on the platform: it decides there, never recorded as "outside" by the
        # unit whose answer is contested (which would then record its own review)
        errors["organ"] = [f"上一级{label}机关（{expected.name}）在本平台，请选择它，由其在平台上作出{label}意见"]
    elif organ_unit is not None and expected is None:
        errors["organ"] = [f"上一级{label}机关不在本平台，请填写平台外机关名称"]
    elif organ_unit is not None and organ_unit.id != expected.id:
        errors["organ"] = [f"{label}机关应为上一级单位：{expected.name}"]
    if errors:
        raise ValidationFailed(errors)
    review = Review(case_id=case.id, case=case, level=level, requested_on=requested_on, organ_unit=organ_unit,
                    external_organ=external_organ, external_reference=external_reference,
                    recorded_by_user_id=actor.user_id)
    db.session.add(review)
    action = REQUESTED[level]
    from center.cases.lifecycle import clock
    from center.cases.models import DeadlineKind

    clock.meet(case, [WINDOW_RULE[level]], _on(requested_on), "requested", kind=DeadlineKind.window)
    for row in lifecycle.start_deadlines(case, action, _on(requested_on)):
        # The decision is the review organ's duty (outside the platform: nobody's here to be charged).
        row.responsible_unit_id = organ_unit.id if organ_unit is not None else None
        row.responsible_department_id = None
    changed = ["level", "requested_on", "organ_unit_id" if organ_unit else "external_organ", "deadlines"]
    organ = organ_unit.name if organ_unit is not None else external_organ
    timeline.log(case, action, actor=actor, at=at, note=f"信访人于 {requested_on:%Y-%m-%d} 向{organ}申请{label}",
                 changed=changed, audit_object=review)
    logger.info("case %s %s requested at %s", case.number, level, organ)
    return review


def may_decide(actor: Actor, review: Review) -> bool:
    """On the platform: a leader (case.approve) covering the organ unit. Outside it: the handling side
    (case.triage over the case) records the organ's decision."""
    from center.cases.permissions import REVIEW_DECIDE

    if review.organ_unit is not None:
        return can(actor, REVIEW_DECIDE, review)
    return can(actor, lifecycle.TRIAGE, review.case)


def _check_decider(actor: Actor, review: Review) -> None:
    if may_decide(actor, review):
        return
    label = REVIEW_LEVEL_LABELS[review.level]
    if review.organ_unit is not None:
        raise PermissionDenied(f"{label}意见须由{label}机关（{review.organ_unit.name}）的负责人作出",
                               action=lifecycle.APPROVE)
    raise PermissionDenied(f"平台外机关的{label}意见由办理单位工作人员登记", action=lifecycle.TRIAGE)


def review_deadline(review: Review) -> Deadline | None:
    rows = [d for d in review.case.deadlines if d.rule == RULE[review.level]]
    return rows[-1] if rows else None


def decide_review(review: Review, *, actor: Actor, decided_on: date, decision: str, notes: str | None = None,
                  external_reference: str | None = None, at: datetime | None = None) -> Review:
    case = review.case
    require_visible(actor, case)
    _check_decider(actor, review)
    label = REVIEW_LEVEL_LABELS[review.level]
    if review.decision is not None:
        raise InvalidTransition(f"{label}意见已经作出")
    errors: dict[str, list[str]] = {}
    decision = enum_value(ReviewDecision, decision, "decision", f"请选择{label}意见", errors)
    if not isinstance(decided_on, date):
        errors["decided_on"] = ["请填写决定日期"]
    elif decided_on > _today():
        errors["decided_on"] = ["决定日期不能晚于今天"]
    elif decided_on < review.requested_on:
        errors["decided_on"] = [f"决定日期不能早于申请日期（{review.requested_on:%Y-%m-%d}）"]
    notes = clean_text(notes, "notes", f"{label}意见说明", errors)
    reference = clean_text(external_reference, "external_reference", "平台外机关的文号或编号", errors,
                      limit=REFERENCE_MAX) or review.external_reference
    if review.organ_unit is None and reference is None:
        errors["external_reference"] = [f"请填写平台外机关{label}意见书的文号或编号"]
    if errors:
        raise ValidationFailed(errors)
    review.decided_on, review.decision, review.notes = decided_on, decision, notes
    review.external_reference = reference
    at = at or utcnow()
    lifecycle.meet_deadlines(case, DECIDED[review.level], _on(decided_on))
    changed = ["decided_on", "decision", "notes", "deadlines"] + (["external_reference"] if reference else [])
    timeline.log(case, DECIDED[review.level], actor=actor, at=at, changed=changed, audit_object=review,
                 note=f"{review.organ_name}{label}意见：{REVIEW_DECISION_LABELS[decision]}")
    if review.level == ReviewLevel.review and decision != ReviewDecision.revoked:
        from center.cases.lifecycle import clock
        from center.cases.models import DeadlineKind

        # The petitioner's 复核 window runs from the 复查 decision (its service is the decision day here).
        clock.start(case, ["re_review_window"], _on(decided_on), started_on=decided_on, kind=DeadlineKind.window)
    system = Actor.system(actor.channel)
    if decision == ReviewDecision.revoked:
        lifecycle.transition(case, "reopen", actor=system, at=at,
                             note=f"{review.organ_name}{label}撤销原处理意见，责成重新办理")
    elif review.level == ReviewLevel.re_review:
        lifecycle.transition(case, "terminate", actor=system, at=at,
                             note="复核后终结：信访人以同一事实和理由提出的信访事项不再受理")
    return review


def pause_review(review: Review, *, actor: Actor, days: int, note: str | None = None) -> Deadline:
    """听证: hearing time is not counted — the decision deadline moves by ``days`` (its paused_days grow)."""
    from core.calendar import load_calendar

    case = review.case
    require_visible(actor, case)
    _check_decider(actor, review)
    if review.decision is not None:
        raise InvalidTransition("已作出决定，不能再中止计时")
    errors: dict[str, list[str]] = {}
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= PAUSE_MAX:
        errors["days"] = [f"听证天数应在 1–{PAUSE_MAX} 之间"]
    note = clean_text(note, "note", "听证说明", errors)
    row = review_deadline(review)
    if row is None or row.met_at is not None:
        errors["days"] = ["没有正在计算的决定期限"]
    if errors:
        raise ValidationFailed(errors)
    rule = lifecycle.deadline_rules()[row.rule]
    old = row.due_on
    row.paused_days += days
    due = load_calendar().add_calendar_days(row.started_on, rule.days + row.paused_days)
    row.due_on, row.provisional = due.date, due.provisional
    label = REVIEW_LEVEL_LABELS[review.level]
    timeline.log(case, "review_paused", actor=actor, changed=["paused_days", "due_on"], audit_object=row,
                 note=f"听证 {days} 天不计入{label}期限，期限由 {old:%Y-%m-%d} 调整为 {due.date:%Y-%m-%d}"
                      + (f"（{note}）" if note else ""))
    return row
