"""The case list every desk shows: visible cases (scoped), open ones first, with their next deadline."""

from __future__ import annotations

from sqlalchemy import case as sql_case

from center.cases.lifecycle import FINAL_STATUSES
from center.cases.models import Case, CaseStatus
from center.cases.presenters import next_deadlines
from center.cases.queries import cases_query
from core.actor import Actor
from core.db import db

DONE = {*FINAL_STATUSES, CaseStatus.closed, CaseStatus.evaluated}


def desk_cases(actor: Actor, *, limit: int = 50) -> dict:
    open_first = sql_case((Case.status.in_([s.value for s in DONE]), 1), else_=0)
    cases = list(db.session.scalars(cases_query(actor).order_by(open_first, Case.received_at.desc(), Case.id.desc())
                                    .limit(limit)))
    deadlines = next_deadlines(cases)
    return {"cases": cases, "deadlines": deadlines,
            "open_count": sum(1 for c in cases if c.status not in DONE),
            "overdue_count": sum(1 for d in deadlines.values() if d.colour == "red"),
            "due_soon_count": sum(1 for d in deadlines.values() if d.colour == "yellow")}
