"""After the answer (DOMAIN.md §2): the petitioner's evaluation and follow-up visits (回访).

- **Evaluation** 满意 / 基本满意 / 不满意, on acceptance (any time after it) and on the result (after closing;
  the first result evaluation of a closed case performs the "evaluate" transition). Recorded by staff
  (case.intake over the case), or by whoever makes a follow-up visit (the grid worker of the case's grid,
  case.followup) as part of that visit. A grid worker records evaluations only on a visit.
- **Follow-up visits** after closing: ``CASE_FOLLOW_UP_VISITS`` per round of handling (default 1; 2 where the
  county requires 双回访). A round starts at the latest close, so a reopened and closed-again case is visited
  again; ``seq`` keeps counting over the case's life.

An unsatisfied result can be reopened or go to 复查: ``center.cases.reviews.operations``.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select

from center.cases.lifecycle import operations as lifecycle
from center.cases.lifecycle.operations import shanghai_date
from center.cases.mediation.operations import SKEW, clean_text
from center.cases.models import (
    EVALUATION_STAGE_LABELS,
    RATING_LABELS,
    VISIT_METHOD_LABELS,
    Case,
    CaseStatus,
    Evaluation,
    EvaluationSource,
    EvaluationStage,
    FollowUpVisit,
    Rating,
    VisitMethod,
)
from center.cases.queries import require_visible
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import can, require
from core.db import db, utcnow
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.work import timeline

S = CaseStatus
FOLLOW_UP = "case.followup"
CLOSED = frozenset({S.closed, S.evaluated})
#: Follow-up visits go on after 终结 too (stability of key people), within the same count.
VISITABLE = CLOSED | {S.terminated}


def enum_value(cls, value, field: str, message: str, errors: dict):
    """``cls(value)``, or None with ``message`` added to ``errors`` (shared with center.cases.reviews)."""
    try:
        return cls(value)
    except ValueError:
        errors[field] = [message]
        return None


def last_event_at(case: Case, action: str) -> datetime | None:
    found = [e.at for e in case.events if e.action == action]
    return max(found) if found else None


# --- evaluations ----------------------------------------------------------------------------------------

def evaluations_of(case: Case) -> list[Evaluation]:
    return list(db.session.scalars(select(Evaluation).where(Evaluation.case_id == case.id)
                                   .order_by(Evaluation.at, Evaluation.id)))


def latest_result_evaluation(case: Case) -> Evaluation | None:
    """The petitioner's latest word on the result in the current round (since the latest close)."""
    closed_at = last_event_at(case, "close")
    rows = [e for e in evaluations_of(case) if e.stage == EvaluationStage.result
            and (closed_at is None or e.at >= closed_at)]
    return rows[-1] if rows else None


def was_accepted(case: Case) -> bool:
    return any(e.action == "accept" for e in case.events)


def record_evaluation(case: Case, *, actor: Actor, stage: str, rating: str, source: str, note: str | None = None,
                      visit: FollowUpVisit | None = None, at: datetime | None = None) -> Evaluation:
    require_visible(actor, case)
    errors: dict[str, list[str]] = {}
    stage = enum_value(EvaluationStage, stage, "stage", "请选择评价对象（对受理或对办理结果）", errors)
    rating = enum_value(Rating, rating, "rating", "请选择满意、基本满意或不满意", errors)
    source = enum_value(EvaluationSource, source, "source", "请选择评价来源", errors)
    if source == EvaluationSource.follow_up:
        require(actor, FOLLOW_UP, case)
        if visit is None or visit.case_id != case.id:
            errors["visit"] = ["回访评价须在记录回访时一并填写"]
    elif not can(actor, lifecycle.EVALUATE, case):
        if can(actor, FOLLOW_UP, case):  # the origin's grid worker or cadre: on the visit, not by hand
            raise PermissionDenied("请在记录回访时一并记录群众评价（来源地只在回访时记录评价）",
                                   action=lifecycle.EVALUATE)
        require(actor, lifecycle.EVALUATE, case)
    note = clean_text(note, "note", "评价说明", errors)
    if errors:
        raise ValidationFailed(errors)
    if stage == EvaluationStage.acceptance and not was_accepted(case):
        raise InvalidTransition("事项尚未受理，不能记录对受理的评价")
    if stage == EvaluationStage.result and case.status not in CLOSED:
        raise InvalidTransition(f"事项办结后才能评价办理结果（当前状态为“{case.status_label}”）")
    at = at or utcnow()
    row = Evaluation(case_id=case.id, stage=stage, rating=rating, source=source, at=at, note=note,
                     recorded_by_user_id=actor.user_id, visit_id=visit.id if visit is not None else None)
    db.session.add(row)
    text = f"{EVALUATION_STAGE_LABELS[stage]}：{RATING_LABELS[rating]}"
    changed = ["stage", "rating", "source"] + (["note"] if note else [])
    db.session.flush()
    record(actor, "case.evaluation", row, unit_id=case.handling_unit_id, changed=changed)
    if stage == EvaluationStage.result and case.status == S.closed:
        lifecycle.transition(case, "evaluate", actor=actor, note=text, at=at)
    else:
        # the evaluation row's own audit is written above
        timeline.log(case, "evaluation", actor=actor, at=at, note=text, changed=changed, audit=timeline.NO_AUDIT)
    return row


# --- follow-up visits -----------------------------------------------------------------------------------

def visits_required() -> int:
    return max(0, int(current_app.config.get("CASE_FOLLOW_UP_VISITS", 1) or 0))


def visits_of(case: Case) -> list[FollowUpVisit]:
    return list(db.session.scalars(select(FollowUpVisit).where(FollowUpVisit.case_id == case.id)
                                   .order_by(FollowUpVisit.seq)))


def visits_this_round(case: Case) -> list[FollowUpVisit]:
    closed_at = last_event_at(case, "close")
    if closed_at is None:
        return []
    since = shanghai_date(closed_at)
    return [v for v in visits_of(case) if shanghai_date(v.visited_at) >= since]


def follow_ups_due(case: Case) -> int:
    """How many follow-up visits the closed case still needs in this round (0 when not closed)."""
    if case.status not in CLOSED:
        return 0
    return max(0, visits_required() - len(visits_this_round(case)))


def record_visit(case: Case, *, actor: Actor, visited_at: datetime, method: str, notes: str,
                 rating: str | None = None, note: str | None = None) -> FollowUpVisit:
    """回访 after closing (case.followup over the case: the grid worker of its grid, the village, staff). A
    rating given on the visit records the result evaluation (source follow_up) in the same operation."""
    require_visible(actor, case)
    require(actor, FOLLOW_UP, case)
    if case.status not in VISITABLE:
        raise InvalidTransition(f"事项办结后才能回访（当前状态为“{case.status_label}”）")
    required = visits_required()
    if len(visits_this_round(case)) >= required:
        raise InvalidTransition(f"本事项需回访 {required} 次，已全部完成")
    errors: dict[str, list[str]] = {}
    method = enum_value(VisitMethod, method, "method", "请选择回访方式", errors)
    closed_at = last_event_at(case, "close")
    if visited_at is None or visited_at.tzinfo is None:
        errors["visited_at"] = ["请填写回访时间"]
    elif visited_at > utcnow() + SKEW:
        errors["visited_at"] = ["回访时间不能晚于现在"]
    elif closed_at is not None and shanghai_date(visited_at) < shanghai_date(closed_at):
        errors["visited_at"] = [f"回访时间不能早于办结日期（{shanghai_date(closed_at):%Y-%m-%d}）"]
    notes = clean_text(notes, "notes", "回访情况", errors, required=True)
    if rating is not None and rating not in Rating.__members__:
        errors["rating"] = ["请选择满意、基本满意或不满意"]
    if errors:
        raise ValidationFailed(errors)
    seq = max((v.seq for v in visits_of(case)), default=0) + 1
    visit = FollowUpVisit(case_id=case.id, seq=seq, visited_at=visited_at, method=method, notes=notes,
                          visitor_user_id=actor.user_id)
    db.session.add(visit)
    changed = ["seq", "visited_at", "method", "notes"]
    timeline.log(case, "follow_up", actor=actor, note=f"第 {seq} 次回访（{VISIT_METHOD_LABELS[method]}）",
                 changed=changed, audit_object=visit)
    if rating is not None:
        record_evaluation(case, actor=actor, stage=EvaluationStage.result, rating=rating,
                          source=EvaluationSource.follow_up, note=note, visit=visit)
    return visit
