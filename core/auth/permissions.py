"""One table of who may do what, and ``require(actor, action, target)``.

A permission comes from a membership: its role, and for some roles the tier of the unit it is held at (a
center_staff member at the district works the district desk, one at a township the township desk). The
target decides jurisdiction: the membership granting the permission must cover it. Objects outside every
membership's jurisdiction are never loaded in the first place (scoped queries answer 404); ``require``
is the second line and raises 403 for an object the actor can see but may not act on.
"""

from __future__ import annotations

from core.accounts.models import Membership, Role
from core.actor import Actor
from core.errors import PermissionDenied

#: Granted to every effective membership.
SELF = "account.self"

#: role → permissions, whatever the tier.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.system_admin: frozenset({"admin.access", "org.view", "org.manage", "user.view", "user.manage",
                                  "calendar.manage", "notify.manage", "grid.bind"}),
    Role.security_admin: frozenset({"admin.access", "security.policy", "user.view", "user.unlock"}),
    Role.auditor: frozenset({"admin.access", "audit.read"}),
    Role.district_leader: frozenset({"org.view", "case.read", "case.supervise", "case.approve", "report.read",
                                     "case.note", "case.reveal", "case.export"}),
    Role.center_staff: frozenset({"org.view", "case.read", "case.intake", "case.triage", "case.handle",
                                  "case.note", "case.followup", "case.reveal", "case.export"}),
    Role.department_head: frozenset({"desk.department", "case.read", "case.handle", "case.approve", "case.note",
                                     "case.export"}),
    Role.department_liaison: frozenset({"desk.department", "case.read", "case.handle", "case.note"}),
    Role.township_leader: frozenset({"org.view", "case.read", "case.supervise", "case.approve", "report.read",
                                     "case.note", "case.reveal", "case.export"}),
    Role.township_staff: frozenset({"org.view", "case.read", "case.intake", "case.triage", "case.handle",
                                    "case.note", "case.followup", "case.reveal", "case.export"}),
    Role.village_head: frozenset({"org.view", "case.read", "case.intake", "case.triage", "case.handle",
                                  "case.approve", "case.note", "case.followup", "case.export", "grid.bind"}),
    Role.village_cadre: frozenset({"org.view", "case.read", "case.intake", "case.handle", "grid.bind",
                                   "case.note", "case.followup"}),
    # Grid workers act for residents: they file (代办), add notes and photos, record follow-up visits and
    # evaluations and ask for escalation on cases of their grid; state transitions stay with the handling side.
    Role.grid_worker: frozenset({"desk.grid", "case.read", "case.intake", "case.note", "case.followup"}),
}

#: desk permission by (role, tier of the membership's unit)
DESK_BY_TIER = {
    "district": ("desk.district", {Role.district_leader, Role.center_staff}),
    "township": ("desk.township", {Role.township_leader, Role.township_staff, Role.center_staff}),
    "village": ("desk.village", {Role.village_head, Role.village_cadre}),
}


def membership_permissions(m: Membership) -> frozenset[str]:
    perms = set(ROLE_PERMISSIONS.get(m.role, ())) | {SELF}
    if m.unit is not None:
        desk = DESK_BY_TIER.get(m.unit.tier)
        if desk and m.role in desk[1]:
            perms.add(desk[0])
    return frozenset(perms)


def granting(actor: Actor, action: str) -> list[Membership]:
    return [m for m in actor.memberships if action in membership_permissions(m)]


def has_permission(actor: Actor, action: str) -> bool:
    return actor.is_system or bool(granting(actor, action))


def covers(m: Membership, target) -> bool:
    """Does this membership's jurisdiction include the target?"""
    units, departments = jurisdiction_of(target)
    if m.department_id is not None:
        return m.department_id in departments
    scope = m.unit
    if scope is None:
        return False
    return any(u is not None and u.path.startswith(scope.path) for u in units) or any(
        d.unit.path.startswith(scope.path) for d in departments_objects(target))


def jurisdiction_of(target) -> tuple[list, set[int]]:
    """(units, department ids) a target belongs to. Models may define ``jurisdiction()`` themselves."""
    from core.accounts.models import User
    from core.org.models import Department, OrgUnit

    if hasattr(target, "jurisdiction"):
        return target.jurisdiction()
    if isinstance(target, OrgUnit):
        return [target], set()
    if isinstance(target, Department):
        return [target.unit], {target.id}
    if isinstance(target, User):
        units = [m.unit for m in target.memberships if m.unit is not None]
        units += [m.department.unit for m in target.memberships if m.department is not None]
        return units, {m.department_id for m in target.memberships if m.department_id}
    raise TypeError(f"no jurisdiction rule for {type(target).__name__}")


def departments_objects(target) -> list:
    from core.org.models import Department

    return [target] if isinstance(target, Department) else []


def can(actor: Actor, action: str, target=None) -> bool:
    if actor.is_system:
        return True
    memberships = granting(actor, action)
    if target is None:
        return bool(memberships)
    return any(covers(m, target) for m in memberships)


def require(actor: Actor, action: str, target=None) -> None:
    if not can(actor, action, target):
        raise PermissionDenied(action=action)
