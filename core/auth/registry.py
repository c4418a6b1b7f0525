"""The permission registry: features declare their actions, and per action which roles, at which tiers, hold it
**in which relation to the subject** (DESIGN.md §7). Seeing is not deciding: visibility stays the union of
jurisdictions (``core.auth.permissions.covers`` and each feature's scoped queries), while a registered action
is allowed only to a membership whose role is granted it *and* that stands in a granted relation to the
subject — the handling organ decides, a summoned department gives feedback, the origin adds notes.

A feature registers, at ``init_app``, from its own ``permissions.py``:
- ``register_relations(SubjectType, resolver)``: ``resolver(membership, subject) -> set of relation names``;
- ``register_action(name, label, grant(roles, relations, tiers=None), ...)``: a decision on a subject;
- ``register_permission(name, label, roles, tiers=None)``: a flat permission (a desk, seeing cases, managing
  the org tree …), held by its roles — optionally only at some tiers of the membership's place — whatever the
  subject; ``can`` then asks only whether a granting membership's jurisdiction covers the target.
This registry is the only place permissions are declared: the kernel never names a feature's subject nor its
permissions, and ``core.auth.permissions`` holds only the mechanism.

One declaration per name: registering a name again with the same grants and label is a no-op (``init_app``
runs once per app instance, and tests build several apps); with other grants, another label, or as the other
kind (an action and a flat permission of one name) it is refused with ``RegistrationConflict``, so two
features can never silently widen or narrow each other's grants and the outcome never depends on import order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.accounts.models import Membership, Role

# The relation vocabulary every subject speaks (a feature may add its own names).
#: the handling organ: members at the handling unit, or the department that is the organ
HANDLING = "handling"
#: the tier's center while a department is the organ: it keeps the scope (sees, supervises), not the decisions
HANDLING_UNIT = "handling_unit"
#: a unit above the handling unit (supervision, the organ one level up)
ABOVE = "above"
#: the unit where the matter arose, or one above it (notes, photos, follow-ups, asking for escalation)
ORIGIN = "origin"
#: a department with a live joint-handling dispatch or summons: acknowledges, reports progress and its result
FEEDBACK = "feedback"
OWNER = "owner_leader"
ASSIGNEE = "assignee"
FILER = "filer"
RELATIONS = (HANDLING, HANDLING_UNIT, ABOVE, ORIGIN, FEEDBACK, OWNER, ASSIGNEE, FILER)

RELATION_LABELS = {HANDLING: "办理机关", HANDLING_UNIT: "办理单位（部门承办时）", ABOVE: "上级单位", ORIGIN: "来源地",
                   FEEDBACK: "协办部门（只反馈）", OWNER: "包案领导", ASSIGNEE: "承办人", FILER: "登记人"}


@dataclass(frozen=True)
class Grant:
    roles: frozenset[Role]
    relations: frozenset[str]
    #: tiers of the membership's place ("district", "township", "village", "grid", "department"); None = any
    tiers: frozenset[str] | None = None

    def matches_role(self, m: Membership) -> bool:
        return m.role in self.roles and (self.tiers is None or place_tier(m) in self.tiers)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    label: str
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class PermissionSpec:
    """A flat permission: no relation to a subject, only the role and (optionally) the tier of its place."""
    name: str
    label: str
    roles: frozenset[Role]
    #: tiers of the membership's place, as in ``Grant.tiers``; None = any
    tiers: frozenset[str] | None = None

    def held_by(self, m: Membership) -> bool:
        return m.role in self.roles and (self.tiers is None or place_tier(m) in self.tiers)


class RegistrationConflict(ValueError):
    """A name registered again with other grants (see the module docstring)."""


_actions: dict[str, ActionSpec] = {}
_permissions: dict[str, PermissionSpec] = {}
_resolvers: dict[type, Callable[[Membership, object], Iterable[str]]] = {}


def grant(roles: Iterable[Role], relations: Iterable[str], tiers: Iterable[str] | None = None) -> Grant:
    return Grant(frozenset(roles), frozenset(relations), frozenset(tiers) if tiers is not None else None)


def _claim(spec: ActionSpec | PermissionSpec) -> None:
    existing = _actions.get(spec.name) or _permissions.get(spec.name)
    if existing is not None and existing != spec:
        raise RegistrationConflict(f"{spec.name!r} is already registered with other grants: {existing!r}; "
                                   "one feature declares a name, with every role that holds it")


def register_action(name: str, label: str, *grants: Grant) -> None:
    """Declare an action: per grant, the roles (at tiers) that hold it in the given relations to the subject."""
    spec = ActionSpec(name, label, tuple(grants))
    _claim(spec)
    _actions[name] = spec
    _held_cache.clear()


def register_permission(name: str, label: str, roles: Iterable[Role], tiers: Iterable[str] | None = None) -> None:
    """Declare a flat permission held by ``roles`` (only at places of ``tiers``, when given)."""
    spec = PermissionSpec(name, label, frozenset(roles), frozenset(tiers) if tiers is not None else None)
    _claim(spec)
    _permissions[name] = spec
    _held_cache.clear()


def register_relations(subject_type: type, resolver: Callable[[Membership, object], Iterable[str]]) -> None:
    _resolvers[subject_type] = resolver


def is_registered(action: str) -> bool:
    """Is ``action`` an action decided by relation to its subject? (A flat permission is not.)"""
    return action in _actions


def action_spec(action: str) -> ActionSpec:
    return _actions[action]


def registered_actions() -> dict[str, ActionSpec]:
    return dict(_actions)


def registered_permissions() -> dict[str, PermissionSpec]:
    return dict(_permissions)


#: held_names by (role, tier of the place): every grant reads only those two, and a request asks this a few
#: dozen times (each a walk over every registered name). Emptied whenever a name is registered.
_held_cache: dict[tuple, frozenset[str]] = {}


def held_names(m: Membership) -> frozenset[str]:
    """Every name ``m`` could hold: the flat permissions its role holds at its place, and the actions its role
    is granted in some relation (``core.auth.permissions.membership_permissions``)."""
    key = (m.role, place_tier(m))
    held = _held_cache.get(key)
    if held is None:
        names = {name for name, spec in _permissions.items() if spec.held_by(m)}
        names.update(name for name in _actions if role_may_hold(m, name))
        held = _held_cache[key] = frozenset(names)
    return held


def place_tier(m: Membership) -> str | None:
    if m.department_id is not None:
        return "department"
    return m.unit.tier if m.unit is not None else None


def role_may_hold(m: Membership, action: str) -> bool:
    """Could this membership hold ``action`` over some subject (menus, desks, "which units may I file at")?"""
    return any(g.matches_role(m) for g in _actions[action].grants)


def relations_of(m: Membership, subject) -> frozenset[str]:
    for cls in type(subject).__mro__:
        resolver = _resolvers.get(cls)
        if resolver is not None:
            return frozenset(resolver(m, subject))
    # Nobody stands in any relation to a subject no feature described (e.g. a case decision asked of a bare
    # unit): the action is refused, never granted by coverage alone.
    return frozenset()


def membership_allows(m: Membership, action: str, subject) -> bool:
    grants = [g for g in _actions[action].grants if g.matches_role(m)]
    if not grants:
        return False
    held = relations_of(m, subject)
    return any(g.relations & held for g in grants)


def allows(memberships: Iterable[Membership], action: str, subject=None) -> bool:
    effective = [m for m in memberships if m.is_effective]
    if subject is None:
        return any(role_may_hold(m, action) for m in effective)
    return any(membership_allows(m, action, subject) for m in effective)
