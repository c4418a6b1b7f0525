"""Scoped reads of the case registry. Nothing outside the actor's sight is ever loaded (404, not 403).

A case is visible to an actor who covers its origin or handling unit (subtree, through the materialized
path), holds a department membership of a department with a live assignment on it, is its assignee or
owner leader (包案), or filed it. A 检举控告 case is invisible to every user holding a membership at or
under its accused unit — this wins over every other rule, except that a user keeps sight of what they filed
(DESIGN.md §4). ``can_see`` is the same rule in Python for an object already in hand.
"""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import aliased

from center.cases.intake.numbering import NUMBER_RE
from center.cases.models import Case, PetitionClass
from center.departments.models import LIVE_ASSIGNMENT, CaseAssignment
from core.actor import Actor
from core.auth.permissions import covers, granting
from core.auth.scoping import subtree_clause, unit_filter
from core.db import db, get_or_404
from core.errors import NotFound
from core.org.models import OrgUnit

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
    """``select(Case)`` limited to what ``actor`` may see (for ``action``, default case.read)."""
    stmt = select(Case)
    if actor.is_system:
        return stmt
    if actor.user_id is None:
        return stmt.where(false())
    origin = aliased(OrgUnit)
    handling = aliased(OrgUnit)
    stmt = (stmt.join(origin, Case.origin_unit_id == origin.id)
            .join(handling, Case.handling_unit_id == handling.id))
    mine = Case.filed_by_user_id == actor.user_id
    personal = or_(Case.assignee_user_id == actor.user_id, Case.owner_leader_user_id == actor.user_id, mine)
    if actor.within is not None:
        # A service token scoped to a subtree reaches the person's own cases only inside that subtree.
        inside = or_(subtree_clause(origin.path, actor.within), subtree_clause(handling.path, actor.within))
        personal = and_(inside, personal)
        mine = and_(inside, mine)
    visible = or_(unit_filter(actor, action, origin.path), unit_filter(actor, action, handling.path), personal)
    departments = sorted({m.department_id for m in granting(actor, action) if m.department_id is not None})
    if departments:
        assigned = select(CaseAssignment.case_id).where(
            CaseAssignment.department_id.in_(departments),
            CaseAssignment.status.in_([s.value for s in LIVE_ASSIGNMENT]))
        visible = or_(visible, Case.id.in_(assigned), Case.handling_department_id.in_(departments))
    shown = accusation_shown(actor)
    return stmt.where(visible if shown is None else visible & or_(shown, mine))


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


def list_cases(actor: Actor, *, status=None, kind=None, handling_unit: OrgUnit | None = None, limit: int = 50,
               offset: int = 0) -> list[Case]:
    stmt = cases_query(actor)
    if status:
        stmt = stmt.where(Case.status == status)
    if kind:
        stmt = stmt.where(Case.kind == kind)
    if handling_unit is not None:
        stmt = stmt.where(Case.handling_unit_id == handling_unit.id)
    return list(db.session.scalars(stmt.order_by(Case.received_at.desc(), Case.id.desc())
                                   .limit(limit).offset(offset)))


def case_page(actor: Actor, *, status=None, kind=None, clause=None, limit: int, offset: int
              ) -> tuple[list[Case], int]:
    """One page of the actor's cases (newest first) narrowed by status, kind and ``clause``, and how many
    there are in all: the API's list and search."""
    from sqlalchemy import func

    stmt = cases_query(actor)
    if status:
        stmt = stmt.where(Case.status == status)
    if kind:
        stmt = stmt.where(Case.kind == kind)
    if clause is not None:
        stmt = stmt.where(clause)
    total = db.session.scalar(select(func.count()).select_from(stmt.with_only_columns(Case.id).subquery()))
    cases = list(db.session.scalars(stmt.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit)
                                    .offset(offset)))
    return cases, total
