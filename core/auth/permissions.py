"""``membership_permissions``, ``can`` and ``require(actor, action, target)``: the mechanism only.

Who holds what is declared by the features themselves, each from its own ``permissions.py`` at ``init_app``,
into ``core.auth.registry`` (DESIGN.md §7): flat permissions (a role, optionally only at some tiers of the
membership's place) and actions (a role in a relation to the subject). This module names no feature's
permission; a new feature never edits it.

A flat permission comes from a membership: its role, and for some permissions the tier of the unit it is held
at (a center_staff member at the district works the district desk, one at a township the township desk). The
target decides jurisdiction: the membership granting the permission must cover it. Objects outside every
membership's jurisdiction are never loaded in the first place (scoped queries answer 404); ``require``
is the second line and raises 403 for an object the actor can see but may not act on.
"""

from __future__ import annotations

from core.accounts.models import Membership
from core.actor import Actor
from core.auth import registry
from core.errors import PermissionDenied


def membership_permissions(m: Membership) -> frozenset[str]:
    """Permissions a membership could hold: the flat ones its role holds at its place and every registered
    action its role is granted in some relation (whether it holds one over a given subject is ``can``'s
    question)."""
    return registry.held_names(m)


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
    """May ``actor`` take ``action`` on ``target``? A registered action asks the registry (role, tier and
    relation to the subject); a flat permission asks whether a granting membership covers the target."""
    if actor.is_system:
        return True
    if registry.is_registered(action):
        return registry.allows(actor.memberships, action, target)
    memberships = granting(actor, action)
    if target is None:
        return bool(memberships)
    return any(covers(m, target) for m in memberships)


def require(actor: Actor, action: str, target=None) -> None:
    if not can(actor, action, target):
        raise PermissionDenied(action=action)
