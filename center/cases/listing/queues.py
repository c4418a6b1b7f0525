"""The desks' work queues (新登记, 办理中, 临期, 超期, 待评价) as SQL clauses, their counts in one query, and the
short case list every desk shows. Lists and counts read the scope table (center.cases.reach): no foreign row is
counted, and a count is its list's.

A queue's deadline colour is the colour of the case's *next open* deadline (earliest due, then lowest id), as
``center.cases.presenters.next_deadlines`` shows it on every list: red once today is past its due day, yellow
from 80 % of its period used. Both are computed in SQL, so counting never loads the cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, literal, not_, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import aliased

from center.cases import reach
from center.cases.lifecycle.operations import FINAL_STATUSES
from center.cases.models import Case, CaseStatus, Deadline, DeadlineKind
from center.cases.presenters import eighty_percent_used, next_deadlines, today_shanghai
from core.actor import Actor
from core.auth.permissions import granting
from core.db import db

DONE = {*FINAL_STATUSES, CaseStatus.closed, CaseStatus.evaluated}
#: Waiting for this desk to accept (登记, 上报 or 交办 to one of the actor's own units).
WAITING = (CaseStatus.registered, CaseStatus.escalated, CaseStatus.handed_down)
#: Accepted and being worked; an answered case waits for its 办结 approval and is still work in hand.
WORKING = (CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.mediating, CaseStatus.reopened,
           CaseStatus.answered)


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    hint: str


QUEUES = (
    Queue("new", "新登记", "待受理：登记、上报或交办到本单位"),
    Queue("working", "办理中", "已受理、办理中、调解中、已答复待办结"),
    Queue("due_soon", "临期", "下一期限已用去 80% 以上"),
    Queue("overdue", "超期", "下一期限已过"),
    Queue("awaiting_evaluation", "待评价", "已办结，尚未评价"),
)
QUEUE_KEYS = tuple(q.key for q in QUEUES)
QUEUE_LABELS = {q.key: q.label for q in QUEUES}


# --- day arithmetic in SQL ----------------------------------------------------------------------------------

# --- the queues as clauses -----------------------------------------------------------------------------------

def own_unit_ids(actor: Actor) -> list[int]:
    """The units the actor works at (not their subtrees): where a case waits "for me"."""
    return sorted({m.unit_id for m in granting(actor, "case.read") if m.unit_id is not None})


def _open():
    return Case.status.not_in([s.value for s in DONE])


def overdue_clause(today: date):
    """An open deadline past its due day (then the next open deadline is past it too)."""
    return exists().where(Deadline.case_id == Case.id, Deadline.met_at.is_(None), Deadline.due_on < today,
                         Deadline.kind == DeadlineKind.duty)


def due_soon_clause(today: date):
    """The next open deadline is not past and at least 80 % of its period is used (presenters.colour_of):
    5·(today − start) ≥ 4·(due − start)  ⇔  4·due + start ≤ 5·today, for a period of at least a day."""
    nxt = aliased(Deadline)
    earliest = (select(Deadline.id).where(Deadline.case_id == Case.id, Deadline.met_at.is_(None),
                                           Deadline.kind == DeadlineKind.duty)
                .order_by(Deadline.due_on, Deadline.id).limit(1).correlate(Case).scalar_subquery())
    return exists().where(
        nxt.id == earliest, nxt.due_on >= today, nxt.due_on > nxt.started_on,
        eighty_percent_used(nxt.started_on, nxt.due_on, today))


def queue_clause(actor: Actor, key: str, today: date):
    if key == "new":
        units = own_unit_ids(actor)
        mine = Case.handling_unit_id.in_(units) if units else literal(False)
        return and_(Case.status.in_([s.value for s in WAITING]), mine)
    if key == "working":
        return Case.status.in_([s.value for s in WORKING])
    if key == "overdue":
        return and_(_open(), overdue_clause(today))
    if key == "due_soon":
        return and_(_open(), not_(overdue_clause(today)), due_soon_clause(today))
    if key == "awaiting_evaluation":
        return Case.status == CaseStatus.closed
    raise ValueError(key)


def queue_row_clause(actor: Actor, key: str, today: date, r):
    """The queue ``key`` on a scope-table row ``r`` (center.cases.reach): what the lists and counts use. The
    same queue as ``queue_clause`` states it on the case — the row carries the case's status and its next open
    duty deadline, so overdue is "the next due day is past"; tests hold the two to each other."""
    open_ = reach.is_open(r)
    if key == "new":
        units = own_unit_ids(actor)
        mine = r.handling_unit_id.in_(units) if units else literal(False)
        return and_(r.status.in_([s.value for s in WAITING]), mine)
    if key == "working":
        return r.status.in_([s.value for s in WORKING])
    if key == "overdue":
        return and_(open_, r.next_due_on < today)
    if key == "due_soon":
        return and_(open_, r.next_due_on >= today, r.next_due_on > r.next_started_on,
                    eighty_percent_used(r.next_started_on, r.next_due_on, today))
    if key == "awaiting_evaluation":
        return r.status == CaseStatus.closed.value
    raise ValueError(key)


#: The open statuses: four of the queues hold open cases only, and are counted over these status ranges.
_OPEN = sorted({s.value for s in CaseStatus} - {s.value for s in DONE})
_DONE = sorted(s.value for s in DONE)
#: The four queues counted over the open rows (待评价 holds 办结 cases and is counted alone).
_OPEN_QUEUES = tuple(q for q in QUEUES if q.key != "awaiting_evaluation")


@dataclass(frozen=True)
class Tally:
    """The queue counts of a list, with how many of its cases are open and how many in all."""

    queues: dict[str, int]
    open: int
    total: int


def tally(actor: Actor, *, where: reach.Where = reach.EVERYTHING, today: date | None = None,
          with_total: bool = False) -> Tally:
    """Every queue over the actor's cases narrowed by ``where`` (default: everything it sees), read from the
    scope table (index-only), each case once, in two statements per way in: the open queues summed over the
    open rows (a tenth of a district's), then 待评价 (办结, not yet evaluated: a third of a district's cases
    over the years) as a plain count of its status range — or, ``with_total``, summed over every done row
    with the count of them, so a list's total costs no statement of its own (``total`` is -1 without it).
    Evaluating every queue expression on every row had cost a district desk 60 ms."""
    today = today or today_shanghai()

    def open_columns(r):
        return [sql_case((queue_row_clause(actor, q.key, today, r), 1), else_=0) for q in _OPEN_QUEUES
                ] + [literal(1)]

    *open_totals, open_n = reach.sums(actor, "case.read", open_columns,
                                      where=where.and_rows(lambda r: r.status.in_(_OPEN)))
    if with_total:
        awaiting, done_n = reach.sums(
            actor, "case.read",
            lambda r: [sql_case((queue_row_clause(actor, "awaiting_evaluation", today, r), 1), else_=0),
                       literal(1)],
            where=where.and_rows(lambda r: r.status.in_(_DONE)))
    else:
        awaiting = reach.count(actor, "case.read", where=where.and_rows(
            lambda r: queue_row_clause(actor, "awaiting_evaluation", today, r)))
        done_n = -1 - open_n
    counts = dict(zip((q.key for q in _OPEN_QUEUES), open_totals, strict=True))
    counts["awaiting_evaluation"] = awaiting
    return Tally({q.key: counts[q.key] for q in QUEUES}, open_n, open_n + done_n)


def queue_counts(actor: Actor, *, where: reach.Where = reach.EVERYTHING, today: date | None = None
                 ) -> dict[str, int]:
    """Count of every queue (``tally``'s queues)."""
    return tally(actor, where=where, today=today).queues


def unit_scope(unit):
    """Cases whose handling or origin unit lies in ``unit``'s subtree (the desk's own unit)."""
    from core.auth.scoping import subtree_clause
    from core.org.models import OrgUnit

    return or_(Case.handling_unit_id.in_(select(OrgUnit.id).where(subtree_clause(OrgUnit.path, unit.path))),
               Case.origin_unit_id.in_(select(OrgUnit.id).where(subtree_clause(OrgUnit.path, unit.path))))


def cases_by_ids(ids: list[int], *options) -> list[Case]:
    """The cases of ``ids`` in that order."""
    if not ids:
        return []
    found = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(ids)).options(*options))}
    return [found[i] for i in ids if i in found]


# --- what a desk shows ----------------------------------------------------------------------------------------

def desk_cases(actor: Actor, *, limit: int = 50, unit=None) -> dict:
    """The desk's short list (open cases first, newest first) with the queue counts, counted in SQL.
    ``unit``: the desk's unit (a township desk of a user with several memberships shows one township)."""
    today = today_shanghai()
    where = reach.Where(unit_id=unit.id) if unit is not None else reach.EVERYTHING
    cases = cases_by_ids([i for i, _ in reach.page(actor, "case.read", limit=limit, where=where)])
    counted = tally(actor, where=where, today=today)
    counts, open_count = counted.queues, counted.open
    return {"cases": cases, "deadlines": next_deadlines(cases, today), "queues": QUEUES, "queue_counts": counts,
            "queue_unit": unit, "open_count": open_count, "overdue_count": counts["overdue"],
            "due_soon_count": counts["due_soon"]}
