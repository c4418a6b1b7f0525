"""Keeping the scope table (center.cases.models.reach) in step, and reading an actor's sight through it.

**Upkeep.** Every flush that writes a case, one of its deadlines or one of its department assignments
recomputes that case's rows in the same transaction (``after_flush``), so no operation can forget it and no
reader sees a case moved without its rows. ``rebuild`` recomputes the rows of any cases (all of them after a
bulk load or the migration that made the table); tests compare the kept rows with a rebuild.

**Reading.** An actor's ways in (``arms``) are its granting units and departments for the action, and itself as
a person and as a filer. ``visible_clause`` is the registry's one visibility rule in SQL (queries.cases_query
uses it); ``page`` and ``count`` walk each way in as its own index range, so a list costs the page, not the
district: a page takes the first rows of every range and merges them; a count adds each range's rows that
no earlier range already gave.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, false, func, insert, literal, or_, select, true
from sqlalchemy.orm import Session

from center.cases.lifecycle.operations import FINAL_STATUSES
from center.cases.models import Case, CaseStatus, Deadline, DeadlineKind, PetitionClass
from center.cases.models.reach import REACH_DEPARTMENT, REACH_FILER, REACH_PERSON, REACH_UNIT, CaseReach
from center.departments.models import LIVE_ASSIGNMENT, CaseAssignment
from core.actor import Actor
from core.auth.permissions import granting
from core.db import db, keep_in_step, touched_keys
from core.org.models import OrgUnit

CHUNK = 500
#: the statuses listed after the open ones (listing.queues.DONE: ended, 办结, evaluated)
DONE_VALUES = frozenset(s.value for s in (*FINAL_STATUSES, CaseStatus.closed, CaseStatus.evaluated))


# --- upkeep ----------------------------------------------------------------------------------------------------

def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def compute(conn, case_ids: Iterable[int]) -> list[dict]:
    """The rows the cases ``case_ids`` should have, read from the database through ``conn``."""
    rows: list[dict] = []
    paths: dict[int, list[int]] = {}
    for ids in _chunks(sorted(set(case_ids))):
        cases = conn.execute(select(
            Case.id, Case.status, Case.kind, Case.petition_class, Case.accused_unit_id, Case.received_at,
            Case.origin_unit_id, Case.handling_unit_id, Case.handling_department_id, Case.assignee_user_id,
            Case.owner_leader_user_id, Case.filed_by_user_id).where(Case.id.in_(ids))).all()
        if not cases:
            continue
        wanted = {c.origin_unit_id for c in cases} | {c.handling_unit_id for c in cases}
        missing = sorted(wanted - paths.keys())
        for unit_id, path in conn.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(missing))):
            paths[unit_id] = [int(p) for p in path.strip("/").split("/") if p]
        nxt: dict[int, tuple] = {}
        for d in conn.execute(select(Deadline.case_id, Deadline.due_on, Deadline.started_on)
                              .where(Deadline.case_id.in_(ids), Deadline.met_at.is_(None),
                                     Deadline.kind == DeadlineKind.duty)
                              .order_by(Deadline.case_id, Deadline.due_on, Deadline.id)):
            nxt.setdefault(d.case_id, (d.due_on, d.started_on))
        departments: dict[int, set[int]] = {}
        for a in conn.execute(select(CaseAssignment.case_id, CaseAssignment.department_id)
                              .where(CaseAssignment.case_id.in_(ids),
                                     CaseAssignment.status.in_([s.value for s in LIVE_ASSIGNMENT]))):
            departments.setdefault(a.case_id, set()).add(a.department_id)
        for c in cases:
            rows.extend(_rows_of(c, paths, nxt.get(c.id, (None, None)), departments.get(c.id, set())))
    return rows


def _rows_of(c, paths, nxt, departments) -> list[dict]:
    status = getattr(c.status, "value", c.status)
    accusation = getattr(c.petition_class, "value", c.petition_class) == PetitionClass.accusation.value
    common = {"case_id": c.id, "done": status in DONE_VALUES, "received_at": c.received_at, "status": status,
              "case_kind": getattr(c.kind, "value", c.kind), "handling_unit_id": c.handling_unit_id,
              "accused_unit_id": c.accused_unit_id if accusation else None,
              "next_due_on": nxt[0], "next_started_on": nxt[1]}
    keys = {(REACH_UNIT, u) for u in paths.get(c.origin_unit_id, []) + paths.get(c.handling_unit_id, [])}
    if c.handling_department_id is not None:
        departments = departments | {c.handling_department_id}
    keys |= {(REACH_DEPARTMENT, d) for d in departments}
    keys |= {(REACH_PERSON, u) for u in (c.assignee_user_id, c.owner_leader_user_id) if u is not None}
    if c.filed_by_user_id is not None:
        keys.add((REACH_FILER, c.filed_by_user_id))
    return [{"kind": k, "ref_id": r, **common} for k, r in sorted(keys)]


def refresh(conn, case_ids: Iterable[int]) -> None:
    """Replace the rows of ``case_ids`` by what they should be now (in the caller's transaction)."""
    ids = sorted(set(case_ids))
    for chunk in _chunks(ids):
        # Two transactions rewriting one case's rows (an assignment withdrawn while the assignee changes)
        # take turns on the case row, so the second sees the first's rows (PostgreSQL; SQLite writes alone).
        conn.execute(select(Case.id).where(Case.id.in_(chunk)).order_by(Case.id).with_for_update())
        conn.execute(delete(CaseReach).where(CaseReach.case_id.in_(chunk)))
    rows = compute(conn, ids)
    for i in range(0, len(rows), 5000):
        conn.execute(insert(CaseReach), rows[i:i + 5000])


def rebuild(session_or_conn, case_ids: Iterable[int] | None = None) -> int:
    """Recompute the rows of ``case_ids`` (every case when None); returns how many cases. Never commits."""
    from sqlalchemy.engine import Connection

    conn = session_or_conn if isinstance(session_or_conn, Connection) else session_or_conn.connection()
    if case_ids is None:
        conn.execute(delete(CaseReach))
        ids = list(conn.scalars(select(Case.id).order_by(Case.id)))
    else:
        ids = sorted(set(case_ids))
    for i in range(0, len(ids), 20000):
        refresh(conn, ids[i:i + 20000])
    return len(ids)


#: What a row carries or is keyed by, per model: a flush that changes none of these leaves the rows as they
#: are (a 督办 level, an answer's text, updated_at …), so the common writes cost nothing here.
WATCHED = {
    # the foreign keys and their relationships (a key set through its relationship shows only there)
    "Case": ("status", "kind", "petition_class", "accused_unit_id", "received_at", "origin_unit_id",
             "handling_unit_id", "handling_department_id", "assignee_user_id", "owner_leader_user_id",
             "filed_by_user_id", "origin_unit", "handling_unit", "handling_department", "accused_unit", "assignee",
             "owner_leader"),
    "Deadline": ("case_id", "met_at", "due_on", "started_on", "kind", "case"),
    "CaseAssignment": ("case_id", "department_id", "status", "case", "department"),
}


def _case_id(obj) -> int | None:
    return obj.id if isinstance(obj, Case) else obj.case_id


def touched_cases(session: Session) -> set[int]:
    """Ids of the cases whose rows this flush may change: new and deleted cases, deadlines and assignments,
    and dirty ones with a watched attribute changed."""
    return touched_keys(session, {model: (WATCHED[model.__name__], _case_id)
                                  for model in (Case, Deadline, CaseAssignment)})


def install() -> None:
    """Keep the rows in step on every session's flush (idempotent)."""
    keep_in_step("case_reach", touched_cases, refresh)


# --- reading ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    """One way in: an index range (kind, ref_id)."""

    kind: int
    ref_id: int


def arms(actor: Actor, action: str) -> list[Arm]:
    """The actor's ways in for ``action``, widest first (a unit nested in another of the actor's is left out:
    its rows are the outer unit's rows already)."""
    if actor.is_system:  # the platform itself: every district's root
        return [Arm(REACH_UNIT, u) for u in db.session.scalars(select(OrgUnit.id).where(
            OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id))]
    if actor.user_id is None:
        return []
    units = {m.unit for m in granting(actor, action) if m.unit is not None}
    outer = sorted((u for u in units if not any(o is not u and u.path.startswith(o.path) for o in units)),
                   key=lambda u: (len(u.path), u.id))
    out = [Arm(REACH_UNIT, u.id) for u in outer]
    out += [Arm(REACH_DEPARTMENT, d) for d in
            sorted({m.department_id for m in granting(actor, action) if m.department_id is not None})]
    return out + [Arm(REACH_PERSON, actor.user_id), Arm(REACH_FILER, actor.user_id)]


class _Rows:
    """The scope table under one alias, its columns as attributes (``r.status``), as filters are written.
    A Core alias of the table, not an ORM ``aliased()``: these statements want columns, never objects, and
    ORM-annotated columns cost several times as much to build and to execute (most of a small list's time)."""

    def __init__(self, name: str):
        self.table = CaseReach.__table__.alias(name)
        self.__dict__.update({c.key: c for c in self.table.c})


# One alias per role in a statement, made once, named after the table (plans, and
# tests/center/test_query_plans.py, still read "case_reach…").
_ROW = _Rows("case_reach_row")  # the row walked (one statement's FROM)
_UNIT = _Rows("case_reach_unit")  # "the case also reaches this unit"
_EARLIER = _Rows("case_reach_earlier")  # "an earlier arm already gave this case"
_WITHIN = _Rows("case_reach_within")  # "inside the token's subtree"
_VISIBLE = _Rows("case_reach_visible")  # cases_query's EXISTS


def _within_unit_id(actor: Actor) -> int | None:
    if actor.within is None:
        return None
    return int(actor.within.strip("/").split("/")[-1])


def row_passes(actor: Actor, r, arm_kind: int | None = None):
    """Clause on the reach alias ``r``: the row counts for this actor. A 检举控告 case is hidden from the
    accused unit's users (whatever their way in) except through the filer's row; a service token scoped to a
    subtree reaches the person's own cases only inside it. ``arm_kind``: the arm's kind when known."""
    from center.cases.queries import membership_unit_ids

    clauses = []
    accused = sorted(membership_unit_ids(actor))
    if accused and arm_kind != REACH_FILER:
        shown = or_(r.accused_unit_id.is_(None), r.accused_unit_id.not_in(accused))
        clauses.append(shown if arm_kind is not None else or_(r.kind == REACH_FILER, shown))
    within = _within_unit_id(actor)
    if within is not None and arm_kind in (None, REACH_PERSON, REACH_FILER):
        w = _WITHIN
        inside = exists().where(w.case_id == r.case_id, w.kind == REACH_UNIT, w.ref_id == within)
        clauses.append(inside if arm_kind is not None else or_(r.kind.not_in([REACH_PERSON, REACH_FILER]),
                                                                 inside))
    return and_(*clauses) if clauses else true()


def _arm_clause(r, arm: Arm):
    return and_(r.kind == arm.kind, r.ref_id == arm.ref_id)


def visible_clause(actor: Actor, action: str, case_id_column=Case.id):
    """SQL clause: the case is in the actor's sight for ``action`` (correlated to ``case_id_column``)."""
    ways = arms(actor, action)
    if not ways:
        return literal(False)
    r = _VISIBLE
    return exists().where(r.case_id == case_id_column, or_(*[_arm_clause(r, a) for a in ways]),
                          row_passes(actor, r))


@dataclass(frozen=True)
class Where:
    """A list's filters: ``rows`` are functions of the reach alias (the columns a row carries), ``cases``
    clauses on the case (joined only when there are some), ``unit_id`` keeps the cases reaching that unit."""

    rows: tuple[Callable, ...] = ()
    cases: tuple = ()
    unit_id: int | None = None
    #: only these cases (a search's matches): each is probed by key instead of walking the range
    case_ids: tuple[int, ...] | None = None

    def and_rows(self, *more: Callable) -> Where:
        return Where(self.rows + more, self.cases, self.unit_id, self.case_ids)


EVERYTHING = Where()


def is_open(r):
    """The row's case is open: ``done = false`` (an equality an index serves; PostgreSQL does not index IS)."""
    return r.done == false()


def _arm_rows(actor: Actor, arm: Arm, r, where: Where, filters: list | None = None):
    """The rows of one way in that ``where`` keeps; ``filters``: ``where.rows`` already applied to ``r`` (the
    caller builds them once for all its ways in — building expressions is most of a small list's time)."""
    filters = [f(r) for f in where.rows] if filters is None else filters
    stmt = select(r.case_id).where(_arm_clause(r, arm), row_passes(actor, r, arm.kind), *filters)
    if where.unit_id is not None and arm != Arm(REACH_UNIT, where.unit_id):
        u = _UNIT
        stmt = stmt.where(exists().where(u.case_id == r.case_id, u.kind == REACH_UNIT, u.ref_id == where.unit_id))
    if where.case_ids is not None:
        stmt = stmt.where(r.case_id.in_(where.case_ids) if where.case_ids else false())
    if where.cases:
        stmt = stmt.join(Case, Case.id == r.case_id).where(*where.cases)
    return stmt


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the open-first, newest-first order: a deep page starts from its neighbour's last (or first)
    row instead of counting every row before it. In a URL as "<done>.<received µs since 1970>.<case id>"."""

    done: bool
    received_us: int
    case_id: int

    FORMAT = re.compile(r"([01])\.([0-9]{1,19})\.([0-9]{1,10})")

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        match = cls.FORMAT.fullmatch(raw or "")
        # bounded so that neither datetime nor a 32-bit id column overflows on a forged cursor
        if match is None or int(match.group(2)) > MAX_US or int(match.group(3)) > 2**31 - 1:
            raise ValueError("翻页位置无效，请从第一页重新翻页")
        return cls(match.group(1) == "1", int(match.group(2)), int(match.group(3)))

    @classmethod
    def of(cls, done: bool, received_at: datetime, case_id: int) -> Cursor:
        return cls(bool(done), _us(received_at), case_id)

    def __str__(self) -> str:
        return f"{int(self.done)}.{self.received_us}.{self.case_id}"

    @property
    def received_at(self) -> datetime:
        return EPOCH + timedelta(microseconds=self.received_us)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_US = (datetime(9999, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


def _us(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def _order_key(done: bool, received_at: datetime, case_id: int) -> tuple:
    return (done, -_us(received_at), -case_id)


def page(actor: Actor, action: str, *, limit: int, offset: int = 0, where: Where = EVERYTHING,
         open_first: bool = True, after: Cursor | None = None, before: Cursor | None = None
         ) -> list[tuple[int, Cursor]]:
    """(case id, cursor) of one page — open first (unless ``open_first`` is False), newest first, then
    highest id — filtered by ``where``: the first ``offset + limit`` rows of the open and of the done part of
    each way in, merged; a case in several ways in is taken once. ``after`` / ``before`` (open-first order
    only) start next to a cursor instead: the rows just after it, or just before it."""
    want = offset + limit
    seen: dict[int, tuple] = {}
    backwards = before is not None
    mark = before if backwards else after
    ways = arms(actor, action)
    filters = [f(_ROW) for f in where.rows]
    # The open part and the done part each walk the index in one direction; one ORDER BY done, received_at
    # DESC would mix directions and sort the whole range. The part nearer the start (the open one; going
    # backwards the done one) is read for every way in first: when it alone fills the page, every row of the
    # other part ranks after the page, and that part is not read at all (a desk with 50 open cases).
    for done in ((True, False) if backwards else (False, True)):
        if mark is not None and (done > mark.done if backwards else done < mark.done):
            continue  # that whole part lies on the other side of the cursor
        for arm in ways:
            r = _ROW
            stmt = (_arm_rows(actor, arm, r, where, filters).add_columns(r.received_at)
                    .where(r.done == (true() if done else false())))
            if mark is not None and done == mark.done:
                at, ident = mark.received_at, mark.case_id
                stmt = stmt.where(and_(r.received_at >= at, or_(r.received_at > at, r.case_id > ident))
                                  if backwards else
                                  and_(r.received_at <= at, or_(r.received_at < at, r.case_id < ident)))
            order = (r.received_at, r.case_id) if backwards else (r.received_at.desc(), r.case_id.desc())
            for case_id, received_at in db.session.execute(stmt.order_by(*order).limit(want)):
                key = _order_key(done, received_at, case_id)
                seen[case_id] = key if open_first else key[1:]
        if open_first and len(seen) >= want:
            break
    ranked = sorted(seen, key=seen.__getitem__)
    chosen = ranked[-limit:] if backwards else ranked[offset:want]
    return [(i, Cursor(seen[i][0], -seen[i][1], i) if open_first else None) for i in chosen]


def _not_earlier(actor: Actor, earlier: list[Arm], r):
    """The row's case came through none of the ``earlier`` arms (so a count never counts a case twice)."""
    if not earlier:
        return []
    e = _EARLIER
    return [~exists().where(e.case_id == r.case_id, or_(*[_arm_clause(e, a) for a in earlier]),
                            row_passes(actor, e))]


def sums(actor: Actor, action: str, columns: Callable[[object], list], *, where: Where = EVERYTHING) -> list[int]:
    """Sum of each of ``columns(r)`` (0/1 expressions; 1 counts) over the actor's distinct cases."""
    ways = arms(actor, action)
    r = _ROW
    summed = [func.coalesce(func.sum(c), 0) for c in columns(r)]  # built once: the alias is the same
    filters = [f(r) for f in where.rows]
    totals = [0] * len(summed)
    for i, arm in enumerate(ways):
        base = _arm_rows(actor, arm, r, where, filters).where(*_not_earlier(actor, ways[:i], r))
        row = db.session.execute(base.with_only_columns(*summed)).one()
        totals = [t + int(v) for t, v in zip(totals, row, strict=True)]
    return totals


def count(actor: Actor, action: str, *, where: Where = EVERYTHING) -> int:
    return sums(actor, action, lambda r: [literal(1)], where=where)[0]


def drift(conn, case_ids: Iterable[int] | None = None) -> list[tuple]:
    """Rows the table holds but should not, and rows it lacks (as (sign, kind, ref_id, case_id, …) tuples):
    empty when the kept rows equal a recomputation. For tests and for an operator's check."""
    columns = ("kind", "ref_id", "case_id", "done", "received_at", "status", "case_kind", "handling_unit_id",
               "accused_unit_id", "next_due_on", "next_started_on")

    def norm(row) -> tuple:
        return tuple(bool(v) if k == "done" else v for k, v in zip(columns, row, strict=True))

    ids = list(conn.scalars(select(Case.id))) if case_ids is None else sorted(set(case_ids))
    kept_rows = select(*[getattr(CaseReach, c) for c in columns])
    if case_ids is not None:
        kept_rows = kept_rows.where(CaseReach.case_id.in_(ids))
    kept = {norm(r) for r in conn.execute(kept_rows)}
    should = {norm(tuple(r[c] for c in columns)) for r in compute(conn, ids)}
    return sorted([("+", *r) for r in kept - should] + [("-", *r) for r in should - kept], key=str)
