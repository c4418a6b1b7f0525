"""Scoped reads of users: an admin sees users holding a membership inside their jurisdiction."""

from __future__ import annotations

from sqlalchemy import exists, func, or_, select

from core.accounts.models import LoginThrottle, Membership, Role, User
from core.actor import Actor
from core.auth.scoping import scope_department_ids, unit_filter
from core.db import db, get_or_404
from core.errors import NotFound, as_id
from core.org.models import Department, OrgUnit


def _visible(actor: Actor, action: str):
    unit_member = (select(Membership.id).join(OrgUnit, Membership.unit_id == OrgUnit.id)
                   .where(Membership.user_id == User.id, unit_filter(actor, action, OrgUnit.path)))
    dept_member = (select(Membership.id).join(Department, Membership.department_id == Department.id)
                   .join(OrgUnit, Department.unit_id == OrgUnit.id)
                   .where(Membership.user_id == User.id, unit_filter(actor, action, OrgUnit.path)))
    clauses = [exists(unit_member), exists(dept_member)]
    dept_ids = scope_department_ids(actor, action)
    if dept_ids:
        clauses.append(exists(select(Membership.id).where(Membership.user_id == User.id,
                                                          Membership.department_id.in_(sorted(dept_ids)))))
    return or_(*clauses)


def users_query(actor: Actor, action: str = "user.view"):
    stmt = select(User)
    if not actor.is_system:
        stmt = stmt.where(_visible(actor, action))
    return stmt


def list_users(actor: Actor, *, q: str | None = None, role: str | None = None, unit: OrgUnit | None = None,
               limit: int = 300, after: str | None = None) -> list[User]:
    """Users in the actor's reach, by username; ``after`` pages on (keyset: the last username shown)."""
    stmt = users_query(actor)
    if after:
        stmt = stmt.where(User.username > after)
    if q:
        stmt = stmt.where(or_(User.username.contains(q), User.display_name.contains(q)))
    if role:
        stmt = stmt.where(exists(select(Membership.id).where(Membership.user_id == User.id,
                                                             Membership.role == role)))
    if unit is not None:
        from core.auth.scoping import subtree_clause

        stmt = stmt.where(exists(select(Membership.id).join(OrgUnit, Membership.unit_id == OrgUnit.id)
                                 .where(Membership.user_id == User.id, subtree_clause(OrgUnit.path, unit.path))))
    return list(db.session.scalars(stmt.order_by(User.username).limit(limit)))


def get_user_or_404(user_id, *, actor: Actor, action: str = "user.view") -> User:
    return get_or_404(users_query(actor, action), user_id)


def get_membership_or_404(membership_id, *, actor: Actor, action: str = "user.view") -> Membership:
    m = db.session.get(Membership, as_id(membership_id))
    if m is None:
        raise NotFound()
    get_user_or_404(m.user_id, actor=actor, action=action)  # the user must be in the actor's reach
    return m


def locked_usernames(now) -> list[LoginThrottle]:
    """Lockouts are not tier data (they are keyed by typed username); the security admin sees them all."""
    return list(db.session.scalars(select(LoginThrottle).where(LoginThrottle.locked_until > now)
                                   .order_by(LoginThrottle.locked_until.desc()).limit(200)))


def users_holding(roles, *, unit_ids=(), department_id: int | None = None) -> list[User]:
    """Active users with an active membership of one of ``roles`` exactly at one of ``unit_ids`` (or at the
    department): the recipients a feature names for a notice ("the township's staff", "the department's
    liaisons"). Not scoped to an actor: senders check who may hear of what (center.cases.queries.hearers)."""
    stmt = select(User).join(Membership, Membership.user_id == User.id)
    if department_id is not None:  # an effective membership: its place is active too
        stmt = stmt.join(Department, Membership.department_id == Department.id).where(
            Department.id == department_id, Department.is_active.is_(True))
    else:
        stmt = stmt.join(OrgUnit, Membership.unit_id == OrgUnit.id).where(
            OrgUnit.id.in_(sorted(set(unit_ids))), OrgUnit.is_active.is_(True))
    stmt = stmt.where(Membership.role.in_([str(r) for r in roles]), Membership.is_active.is_(True),
                      User.is_active.is_(True)).order_by(User.id)
    return list(db.session.scalars(stmt).unique())


#: Who leads a unit, by its tier: the district's leaders, a township's leaders, a village's (community's) head.
#: A grid has none; a department is led by its department_head.
LEADER_ROLES: dict[str, Role] = {"district": Role.district_leader, "township": Role.township_leader,
                                 "village": Role.village_head}


def leader_role(tier: str) -> Role | None:
    """The leader post of a unit of ``tier`` (``unit.tier``), or None."""
    return LEADER_ROLES.get(tier)


def leaders_of(unit: OrgUnit) -> list[User]:
    """Active users holding ``unit``'s leader post exactly at ``unit`` (not above, not below), by id."""
    role = leader_role(unit.tier)
    return users_holding([role], unit_ids=[unit.id]) if role is not None else []


def pending_memberships(actor: Actor, *, limit: int = 300) -> list[Membership]:
    """Proposed memberships at places inside the actor's jurisdiction for membership.activate, oldest first
    (the security administrator's queue)."""
    from core.accounts.models import MembershipStatus

    action = "membership.activate"
    at_unit = (select(Membership.id).join(OrgUnit, Membership.unit_id == OrgUnit.id)
               .where(unit_filter(actor, action, OrgUnit.path)))
    at_department = (select(Membership.id).join(Department, Membership.department_id == Department.id)
                     .join(OrgUnit, Department.unit_id == OrgUnit.id).where(unit_filter(actor, action, OrgUnit.path)))
    stmt = (select(Membership).where(Membership.status == MembershipStatus.proposed,
                                     or_(Membership.id.in_(at_unit), Membership.id.in_(at_department)))
            .order_by(Membership.created_at, Membership.id).limit(limit))
    return list(db.session.scalars(stmt))


def grid_workers(*, unit_ids=None, within: OrgUnit | None = None, where=None) -> list[tuple[User, OrgUnit]]:
    """(grid worker, their grid) for every active user in an active grid-worker post: at the grids
    ``unit_ids``, or anywhere under ``within``, or wherever ``where`` (a clause on OrgUnit, e.g. a jurisdiction
    filter) allows — by grid, then name. The one query every desk and notice asks "who works these grids"."""
    from core.auth.scoping import subtree_clause

    stmt = (select(User, OrgUnit).join(Membership, Membership.user_id == User.id)
            .join(OrgUnit, Membership.unit_id == OrgUnit.id)
            .where(Membership.role == Role.grid_worker, Membership.is_active.is_(True), User.is_active.is_(True)))
    if unit_ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(list(unit_ids)))
    if within is not None:
        stmt = stmt.where(subtree_clause(OrgUnit.path, within.path))
    if where is not None:
        stmt = stmt.where(where)
    return [(user, unit) for user, unit in db.session.execute(stmt.order_by(OrgUnit.path, User.display_name))]


def grid_worker_counts(within: OrgUnit) -> dict[int, int]:
    """How many grid-worker posts ``grid_workers(within=…)`` lists under each village (the grids' parent):
    counted in SQL, for a desk that shows the figure only (a township has a hundred or more)."""
    from core.auth.scoping import subtree_clause

    stmt = (select(OrgUnit.parent_id, func.count()).join(Membership, Membership.unit_id == OrgUnit.id)
            .join(User, Membership.user_id == User.id)
            .where(Membership.role == Role.grid_worker, Membership.is_active.is_(True), User.is_active.is_(True),
                   subtree_clause(OrgUnit.path, within.path))
            .group_by(OrgUnit.parent_id))
    return {parent_id: n for parent_id, n in db.session.execute(stmt)}


def person_who_may_sign_in(user_id) -> User | None:
    """The active person (not a service account) of ``user_id``, or None: whom a pending sign-in step names."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.is_active and not user.is_service else None
