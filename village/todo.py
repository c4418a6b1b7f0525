"""A grid worker's tasks: open cases assigned to them or from their grid, and follow-up visits still due
on closed cases of their grid. Shared by the mobile desk, the WeChat "待办" command and reminders.

Everything starts from ``center.cases.queries.cases_query(actor)``, so a task list never shows what the
worker could not open (检举控告 rule included).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from center.cases.aftercare.operations import visits_required
from center.cases.listing.queues import DONE
from center.cases.models import Case, CaseStatus, FollowUpVisit
from center.cases.presenters import DeadlineView, next_deadlines
from center.cases.queries import cases_query
from core.accounts.models import Role
from core.actor import Actor
from core.auth.scoping import subtree_clause
from core.db import db
from core.org.models import OrgUnit

REASON_LABELS = {"assigned": "交给我办", "grid": "本网格", "follow_up": "待回访"}


@dataclass(frozen=True)
class Task:
    case: Case
    reason: str  # assigned | grid | follow_up
    deadline: DeadlineView | None

    @property
    def reason_label(self) -> str:
        return REASON_LABELS[self.reason]


def grid_paths(actor: Actor) -> list[str]:
    return sorted({m.unit.path for m in actor.memberships if m.role == Role.grid_worker and m.unit is not None})


def my_tasks(actor: Actor, *, limit: int = 50) -> list[Task]:
    """Open work first (overdue, then nearest deadline), then follow-ups due, at most ``limit``."""
    if actor.user_id is None:
        return []
    origin = aliased(OrgUnit)
    paths = grid_paths(actor)
    in_grid = or_(*[subtree_clause(origin.path, p) for p in paths]) if paths else None
    mine = Case.assignee_user_id == actor.user_id
    base = cases_query(actor).join(origin, Case.origin_unit_id == origin.id)
    open_cases = list(db.session.scalars(
        base.where(Case.status.not_in([s.value for s in DONE]), mine if in_grid is None else or_(mine, in_grid))
        .order_by(Case.received_at.desc(), Case.id.desc()).limit(limit)))
    follow_ups: list[Case] = []
    if in_grid is not None:
        visits = (select(func.count(FollowUpVisit.id)).where(FollowUpVisit.case_id == Case.id)
                  .correlate(Case).scalar_subquery())
        follow_ups = list(db.session.scalars(
            base.where(Case.status.in_([CaseStatus.closed.value, CaseStatus.evaluated.value]), in_grid,
                       visits < visits_required())
            .order_by(Case.updated_at.desc()).limit(limit)))
    deadlines = next_deadlines(open_cases)
    tasks = [Task(c, "assigned" if c.assignee_user_id == actor.user_id else "grid", deadlines.get(c.id))
             for c in open_cases]
    tasks.sort(key=lambda t: (t.deadline is None, t.deadline.days_left if t.deadline else 0))
    tasks += [Task(c, "follow_up", None) for c in follow_ups]
    return tasks[:limit]
