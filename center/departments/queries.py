"""Scoped reads of department assignments: one assignment of a visible case, and the department desk's queues.

An assignment is loaded only through its case, itself loaded through the scoped case query (404 outside the
actor's sight); a department sees a case while its assignment is live (center.cases.queries).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from center.cases.models import Case
from center.cases.queries import accusation_shown, cases_query
from center.cases.reach import visible_clause
from center.departments.models import LIVE_ASSIGNMENT, AssignmentStatus, CaseAssignment
from center.departments.presenters import arrival_view, since
from core.actor import Actor
from core.db import db, get_or_404, utcnow
from core.org.models import Department

S = AssignmentStatus
#: 近期完成: done assignments of the last this many days.
RECENT_DONE = timedelta(days=30)
QUEUE_LIMIT = 200
#: the "近期完成" section is for reference, not work: the latest few per department, with how many in all
DONE_SHOWN = 20


def get_assignment_or_404(case: Case, assignment_id) -> CaseAssignment:
    """An assignment of a case the caller already loaded through the scoped query (else 404)."""
    return get_or_404(select(CaseAssignment).where(CaseAssignment.case_id == case.id), assignment_id)


def _assignments(department_ids: list[int]):
    return (select(CaseAssignment).join(Case, CaseAssignment.case_id == Case.id)
            .where(CaseAssignment.department_id.in_(department_ids))
            .options(joinedload(CaseAssignment.case).joinedload(Case.handling_unit),
                     joinedload(CaseAssignment.department)))


def _row(a: CaseAssignment, now: datetime) -> dict:
    return {"a": a, "case": a.case, "since": since(a), "arrival": arrival_view(a, now)}


def desk_queues(actor: Actor, departments: list[Department], now: datetime | None = None) -> dict:
    """Rows ({a, case, since, arrival}) per department: summoned (summoned and acknowledged, earliest arrival first), queued, active, and done
    in the last 30 days. Live rows only for cases the actor sees; done rows (the case is out of sight then)
    still obey the 检举控告 rule."""
    now = now or utcnow()
    ids = sorted({d.id for d in departments})
    queues = {d.id: {"summoned": [], "queued": [], "active": [], "done": [], "done_count": 0} for d in departments}
    if not ids:
        return {"queues": queues, "now": now, "live_cases": [], "visible_ids": set()}
    # Visibility probed per assignment row (the scope table's EXISTS), never a list of every visible case.
    visible = visible_clause(actor, "case.read", CaseAssignment.case_id) if not actor.is_system else None
    live = db.session.scalars(_assignments(ids).where(
        CaseAssignment.status.in_([s.value for s in LIVE_ASSIGNMENT]), *([visible] if visible is not None else []))
        .order_by(CaseAssignment.assigned_at, CaseAssignment.id).limit(QUEUE_LIMIT)).unique()
    live = list(live)
    for a in live:
        key = "summoned" if a.status in (S.summoned, S.acknowledged) else a.status.value
        queues[a.department_id][key].append(_row(a, now))
    for q in queues.values():
        q["summoned"].sort(key=lambda r: (r["a"].arrive_by or now, r["a"].id))
        q["active"].sort(key=lambda r: (r["since"] or now, r["a"].id))
    done = [CaseAssignment.status == S.done.value, CaseAssignment.finished_at >= now - RECENT_DONE]
    shown = accusation_shown(actor)
    if shown is not None:
        done.append(or_(shown, Case.filed_by_user_id == actor.user_id))
    for department_id in ids:
        mine = [*done, CaseAssignment.department_id == department_id]
        for a in db.session.scalars(_assignments(ids).where(*mine)
                                    .order_by(CaseAssignment.finished_at.desc(), CaseAssignment.id.desc())
                                    .limit(DONE_SHOWN)).unique():
            queues[department_id]["done"].append(_row(a, now))
        queues[department_id]["done_count"] = db.session.scalar(
            select(func.count()).select_from(CaseAssignment).join(Case, CaseAssignment.case_id == Case.id)
            .where(*mine))
    return {"queues": queues, "now": now, "live_cases": [a.case for a in live],
            "visible_ids": {a.case_id for a in live}}


def organ_cases(actor: Actor, departments: list[Department]) -> list[Case]:
    """Cases transferred to these departments as the handling organ (转送/交办), still open: the department
    accepts, handles and answers them in its own name. Open means not ended and not 办结 either: a closed
    or evaluated case is no longer the department's work (D1's 司法局 had 171 of them listed here)."""
    from center.cases.reach import DONE_VALUES

    ids = sorted({d.id for d in departments})
    if not ids:
        return []
    stmt = (cases_query(actor).where(Case.handling_department_id.in_(ids), Case.status.not_in(sorted(DONE_VALUES)))
            .order_by(Case.received_at, Case.id).limit(QUEUE_LIMIT))
    return list(db.session.scalars(stmt))
