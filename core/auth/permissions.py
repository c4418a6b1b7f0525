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
from core.auth import registry
from core.errors import PermissionDenied

#: Granted to every effective membership.
SELF = "account.self"

#: role → permissions, whatever the tier.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    # 三权分立: the system administrator creates and places accounts (memberships only proposed), the security
    # administrator grants rights (activates memberships, issues service tokens), the auditor reads the audit
    # log. admin.request: asking for, and as the third administrator approving, an act on an administrator's
    # account (core.accounts.dual_control). Nobody issues a token in a person's name (core.accounts.tokens).
    Role.system_admin: frozenset({"admin.access", "org.view", "org.manage", "user.view", "user.manage",
                                  "calendar.manage", "notify.manage", "grid.bind", "token.revoke",
                                  "admin.request"}),
    Role.security_admin: frozenset({"admin.access", "security.policy", "user.view", "user.unlock",
                                    "membership.activate", "service_token.issue", "token.revoke",
                                    "admin.request"}),
    Role.auditor: frozenset({"admin.access", "audit.read", "admin.request"}),
    # Case decisions (case.triage, case.handle, case.approve, case.supervise, case.note, case.followup,
    # case.evaluate …) are registered with their relations by center/cases/permissions.py: seeing a case is
    # not deciding on it. What stays here is visibility and the desks.
    Role.district_leader: frozenset({"org.view", "case.read", "report.read", "case.reveal", "case.export"}),
    Role.center_staff: frozenset({"org.view", "case.read", "case.intake", "case.reveal", "case.export"}),
    Role.department_head: frozenset({"desk.department", "case.read", "case.export"}),
    Role.department_liaison: frozenset({"desk.department", "case.read"}),
    Role.township_leader: frozenset({"org.view", "case.read", "report.read", "case.reveal", "case.export"}),
    Role.township_staff: frozenset({"org.view", "case.read", "case.intake", "case.reveal", "case.export"}),
    Role.village_head: frozenset({"org.view", "case.read", "case.intake", "case.export", "grid.bind"}),
    Role.village_cadre: frozenset({"org.view", "case.read", "case.intake", "grid.bind"}),
    # Grid workers act for residents: they file (代办), add notes and photos, record follow-up visits and
    # evaluations and ask for escalation on cases of their grid; state transitions stay with the handling side.
    Role.grid_worker: frozenset({"desk.grid", "case.read", "case.intake"}),
}

#: desk permission by (role, tier of the membership's unit)
DESK_BY_TIER = {
    "district": ("desk.district", {Role.district_leader, Role.center_staff}),
    "township": ("desk.township", {Role.township_leader, Role.township_staff, Role.center_staff}),
    "village": ("desk.village", {Role.village_head, Role.village_cadre}),
}


def membership_permissions(m: Membership) -> frozenset[str]:
    """Permissions a membership could hold: its role's flat ones and every registered action its role is
    granted in some relation (whether it holds one over a given subject is ``can``'s question)."""
    perms = set(ROLE_PERMISSIONS.get(m.role, ())) | {SELF}
    perms.update(name for name in registry.registered_actions() if registry.role_may_hold(m, name))
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
    """May ``actor`` take ``action`` on ``target``? A registered action asks the registry (role, tier and
    relation to the subject); the kernel's flat permissions ask whether a granting membership covers it."""
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
