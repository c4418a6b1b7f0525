"""Scoped reads of the case registry. Nothing outside the actor's sight is ever loaded (404, not 403).

A case is visible to an actor who covers its origin or handling unit (subtree, through the materialized
path), holds a department membership of a department with a live assignment on it, is its assignee or
owner leader (包案), or filed it. A 检举控告 case is invisible to every user holding a membership at or
under its accused unit — this wins over every other rule, except that a user keeps sight of what they filed
(DESIGN.md §4). ``can_see`` is the same rule in Python for an object already in hand.
"""

from __future__ import annotations

from sqlalchemy import false, or_, select

from center.cases.intake.numbering import NUMBER_RE
from center.cases.models import Case, PetitionClass
from core.actor import Actor
from core.auth.permissions import covers, granting
from core.db import get_or_404
from core.errors import NotFound

READ = "case.read"


def membership_unit_ids(actor: Actor) -> set[int]:
    """Ids of every unit at or above the actor's memberships (a department sits at its unit): an accusation
    against any of them is hidden from the actor."""
    ids: set[int] = set()
    for m in actor.own_memberships or actor.memberships:
        unit = m.unit if m.unit is not None else (m.department.unit if m.department is not None else None)
        if unit is not None:
            ids.update(unit.ancestor_ids)
    return ids


def accusation_shown(actor: Actor):
    """SQL clause: the case is not an accusation against the actor's own unit or one above it."""
    if actor.is_system:
        return None
    ids = sorted(membership_unit_ids(actor))
    if not ids:
        return None
    return or_(Case.petition_class.is_(None), Case.petition_class != PetitionClass.accusation,
               Case.accused_unit_id.is_(None), Case.accused_unit_id.not_in(ids))


def cases_query(actor: Actor, action: str = READ):
    """``select(Case)`` limited to what ``actor`` may see (for ``action``, default case.read): the scope
    table's rows (center.cases.reach) — every way in, the 检举控告 rule and a token's subtree in one EXISTS."""
    from center.cases.reach import visible_clause

    stmt = select(Case)
    if actor.is_system:
        return stmt
    if actor.user_id is None:
        return stmt.where(false())
    return stmt.where(visible_clause(actor, action))


def can_see(actor: Actor, case: Case, action: str = READ) -> bool:
    if actor.is_system:
        return True
    if actor.user_id is None:
        return False
    personal = actor.within is None or any(
        actor.reaches_path(unit.path) for unit in (case.origin_unit, case.handling_unit) if unit is not None)
    if personal and case.filed_by_user_id == actor.user_id:
        return True
    if case.is_accusation and case.accused_unit_id in membership_unit_ids(actor):
        return False
    if personal and actor.user_id in (case.assignee_user_id, case.owner_leader_user_id):
        return True
    return any(covers(m, case) for m in granting(actor, action))


def require_visible(actor: Actor, case: Case) -> None:
    """Operations on a case already in hand start here: outside the actor's sight it does not exist (404)."""
    if not can_see(actor, case):
        raise NotFound()


def may_hear_of(user, case: Case) -> bool:
    """Whether a notice about ``case`` may go to ``user``: never to the accused unit's users on a 检举控告 case
    (whatever list they are on — a grid, a department, the leaders of a unit), except the one who filed it.
    Who else is told is the sender's own choice of list."""
    if user is None:
        return False
    if not case.is_accusation or case.filed_by_user_id == user.id:
        return True
    return case.accused_unit_id not in membership_unit_ids(Actor.for_user(user))


def hearers(case: Case, users) -> list:
    """``users`` a notice about ``case`` may go to (order kept)."""
    return [u for u in users if may_hear_of(u, case)]


def get_case_or_404(case_id, *, actor: Actor, action: str = READ) -> Case:
    return get_or_404(cases_query(actor, action), case_id)


def get_case_by_number_or_404(number: str, *, actor: Actor, action: str = READ) -> Case:
    if not isinstance(number, str) or not NUMBER_RE.fullmatch(number):
        raise NotFound()
    return get_or_404(cases_query(actor, action), number, column=Case.number)


def case_page(actor: Actor, *, status=None, kind=None, clause=None, candidates=None, limit: int, offset: int
              ) -> tuple[list[Case], int]:
    """One page of the actor's cases (newest first) narrowed by status, kind and ``clause``, and how many
    there are in all: the API's list and search (through the scope table, center.cases.reach)."""
    from center.cases import reach
    from center.cases.listing.queues import cases_by_ids

    rows = []
    if status:
        rows.append(lambda r: r.status == getattr(status, "value", status))
    if kind:
        rows.append(lambda r: r.case_kind == getattr(kind, "value", kind))
    where = reach.Where(tuple(rows), (clause,) if clause is not None else (), case_ids=candidates)
    total = reach.count(actor, READ, where=where)
    ids = [i for i, _ in reach.page(actor, READ, limit=limit, offset=offset, where=where, open_first=False)]
    return cases_by_ids(ids), total
