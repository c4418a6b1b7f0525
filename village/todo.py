"""A grid worker's tasks: open cases assigned to them or from their grid, and follow-up visits still due
on closed cases of their grid. Shared by the mobile desk, the WeChat "待办" command and reminders.

Everything is read through the actor's sight (the scope table, center.cases.reach), so a task list never
shows what the worker could not open (检举控告 rule included).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from center.cases import reach
from center.cases.aftercare.operations import visits_required
from center.cases.listing.queues import cases_by_ids
from center.cases.models import Case, CaseStatus, FollowUpVisit
from center.cases.presenters import DeadlineView, next_deadlines
from core.accounts.models import Role
from core.actor import Actor
from core.auth.scoping import subtree_clause
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


#: How many ended cases of the grid are looked at for owed follow-up visits (a grid's cases of several years).
FOLLOW_UP_SCAN = 2000


def grid_paths(actor: Actor) -> list[str]:
    return sorted({m.unit.path for m in actor.memberships if m.role == Role.grid_worker and m.unit is not None})


def my_tasks(actor: Actor, *, limit: int = 50) -> list[Task]:
    """Open work first (overdue, then nearest deadline), then follow-ups due, at most ``limit``."""
    if actor.user_id is None:
        return []
    paths = grid_paths(actor)
    # Through the scope table (center.cases.reach): the grid's and the person's own ways in, a few rows each —
    # an ORDER BY received_at over the registry would walk the district to find a grid's handful.
    in_grid = (Case.origin_unit_id.in_(select(OrgUnit.id).where(or_(*[subtree_clause(OrgUnit.path, p)
                                                                      for p in paths])))
               if paths else None)
    mine = Case.assignee_user_id == actor.user_id
    open_where = reach.Where(rows=(reach.is_open,), cases=(mine if in_grid is None else or_(mine, in_grid),))
    open_cases = cases_by_ids([i for i, _ in reach.page(actor, "case.read", limit=limit, where=open_where)])
    follow_ups: list[Case] = []
    if in_grid is not None:
        visits = (select(func.count(FollowUpVisit.id)).where(FollowUpVisit.case_id == Case.id)
                  .correlate(Case).scalar_subquery())
        ended = (CaseStatus.closed.value, CaseStatus.evaluated.value)
        done_where = reach.Where(rows=(lambda r: r.status.in_(ended),), cases=(in_grid, visits < visits_required()))
        # every such case of the grid (its range is the grid's), the most recently changed first
        owed = cases_by_ids([i for i, _ in reach.page(actor, "case.read", limit=FOLLOW_UP_SCAN, where=done_where)])
        follow_ups = sorted(owed, key=lambda c: (c.updated_at, c.id), reverse=True)[:limit]
    deadlines = next_deadlines(open_cases)
    tasks = [Task(c, "assigned" if c.assignee_user_id == actor.user_id else "grid", deadlines.get(c.id))
             for c in open_cases]
    tasks.sort(key=lambda t: (t.deadline is None, t.deadline.days_left if t.deadline else 0))
    tasks += [Task(c, "follow_up", None) for c in follow_ups]
    return tasks[:limit]
