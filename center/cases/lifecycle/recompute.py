"""When the official holiday table of a year is entered, every provisional deadline that touched it is
recomputed (DOMAIN.md §7): the row keeps its identity and 督办 level, met deadlines are left alone, and each
moved deadline is recorded on its case's timeline."""

from __future__ import annotations

import logging

from sqlalchemy import select

from center.cases.lifecycle.operations import deadline_rules
from center.cases.models import Deadline, Extension
from core.actor import Actor
from core.audit.operations import record
from core.db import db
from core.work import timeline

logger = logging.getLogger(__name__)


def recompute_provisional(years: set[int]) -> int:
    """Registered in core.hooks.holiday_change_handlers; runs inside the caller's transaction."""
    from core.calendar import load_calendar

    calendar, rules = load_calendar(), deadline_rules()
    extended = dict(db.session.execute(select(Extension.deadline_id, Extension.days)).all())
    moved = 0
    rows = db.session.scalars(select(Deadline).where(Deadline.provisional.is_(True), Deadline.met_at.is_(None))
                              .order_by(Deadline.id))
    for row in rows:
        if not any(row.started_on.year <= y <= row.due_on.year + 1 for y in years):
            continue
        rule = rules.get(row.rule)
        if rule is None:  # a rule removed from the configuration: leave the row as it was computed
            continue
        days = rule.days + row.paused_days
        due = (calendar.add_working_days(row.started_on, days) if rule.working_days
               else calendar.add_calendar_days(row.started_on, days))
        if row.id in extended:  # an approved extension (延期) moves the recomputed end as it moved the old one
            due = calendar.add_calendar_days(due.date, extended[row.id])
        old = row.due_on
        row.due_on, row.provisional = due.date, due.provisional
        if due.date != old:
            moved += 1
            # one audit row for the whole recomputation (below), one timeline line per moved row
            timeline.log(row.case, "deadline_recomputed", actor=None, changed=["due_on"], audit=timeline.NO_AUDIT,
                         note=f"法定节假日安排录入后，{rule.label}期限由 {old:%Y-%m-%d} 调整为 {due.date:%Y-%m-%d}")
    if moved:
        record(Actor.system("job"), "case.deadlines_recomputed", object_type="case_deadlines", object_id=str(moved),
               changed=["due_on", "provisional"])
        logger.info("recomputed %s provisional deadlines for %s", moved, sorted(years))
    return moved
