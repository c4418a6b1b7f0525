"""Notifications to grid workers (issue 5 §6), through notify's outbox, each opening the phone page of the case
(inside WeChat the link signs the worker in silently):

- a case of my grid handed down to my village, or escalated from it, or closed (follow-up due);
- every morning: follow-up visits still due and deadlines near (≥ 80 % of the time used) on my grid's cases.
Keys make each notice once: per case and event, or per case, kind and day for the morning reminders.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from center.cases.aftercare.operations import visits_required
from center.cases.listing.queues import DONE
from center.cases.models import Case, CaseStatus, Deadline, DeadlineKind, FollowUpVisit
from center.cases.presenters import colour_of, today_shanghai
from center.cases.queries import may_hear_of
from core.accounts.models import User
from core.accounts.queries import grid_workers
from core.actor import Actor
from core.db import db
from core.org.models import OrgUnit
from notify.outbox import enqueue
from notify.render import shorten

TOLD_ON = {"hand_down": "已交办到村（社区）", "escalate": "已上报", "close": "已办结，请按时回访",
           "reopen": "已重新办理", "not_accept": "不予受理"}


def grid_workers_of(unit: OrgUnit) -> list[User]:
    if unit.tier != "grid":
        return []
    return [user for user, _grid in grid_workers(unit_ids=[unit.id])]


def _send(user: User, case: Case, kind: str, title: str, body: str, key: str) -> None:
    if not may_hear_of(user, case):  # e.g. a 检举控告 case about the worker's own village
        return
    enqueue(f"grid.{kind}", user, {"title": title, "body": body, "url": f"/m/cases/{case.number}",
                                   "number": case.number, "status": case.status_label}, key=key)


def on_transition(case: Case, event, actor: Actor) -> None:
    """center.cases.registry transition listener: tell the grid's workers what happened to their case."""
    what = TOLD_ON.get(event.action)
    if what is None:
        return
    for worker in grid_workers_of(case.origin_unit):
        if worker.id == actor.user_id:
            continue
        _send(worker, case, event.action, f"本网格事项{what}", f"{case.number} {shorten(case.summary, 30)}",
              f"grid:{event.action}:{event.id}:{worker.id}")


def morning_reminders(actor: Actor, *, today: date | None = None) -> dict[str, int]:
    """Daily job: follow-ups due and deadlines near on cases from grids, to those grids' workers."""
    today = today or today_shanghai()
    required = visits_required()
    sent = {"follow_up": 0, "deadline": 0}
    grid_cases = (select(Case).join(OrgUnit, Case.origin_unit_id == OrgUnit.id)
                  .where(OrgUnit.kind == "grid"))
    visits = (select(func.count(FollowUpVisit.id)).where(FollowUpVisit.case_id == Case.id).correlate(Case)
              .scalar_subquery())
    for case in db.session.scalars(grid_cases.where(
            Case.status.in_([CaseStatus.closed.value]), visits < required)):
        for worker in grid_workers_of(case.origin_unit):
            _send(worker, case, "follow_up_due", "请回访群众", f"{case.number} {shorten(case.summary, 30)}",
                  f"grid:follow_up:{case.id}:{today}:{worker.id}")
            sent["follow_up"] += 1
    rows = db.session.execute(grid_cases.add_columns(Deadline).join(Deadline, Deadline.case_id == Case.id)
                              .where(Deadline.met_at.is_(None), Deadline.kind == DeadlineKind.duty, Case.status.not_in([s.value for s in DONE]),
                                     Deadline.due_on >= today))
    for case, deadline in rows:
        if colour_of(deadline, today) != "yellow":
            continue
        for worker in grid_workers_of(case.origin_unit):
            _send(worker, case, "deadline_near", "本网格事项临近期限",
                  f"{case.number} 剩 {(deadline.due_on - today).days} 天：{shorten(case.summary, 24)}",
                  f"grid:deadline:{deadline.id}:{today}:{worker.id}")
            sent["deadline"] += 1
    return sent


def init_app(app) -> None:
    from center.cases.registry import register_transition_listener
    from core.scheduler import register_job

    register_transition_listener(on_transition)
    register_job("grid.morning_reminders", morning_reminders, trigger="cron", hour=8, minute=0,
                 description="网格员早提醒：待回访、临期事项")
