"""Which units take part in a case, each rule written once (DESIGN.md §3.3, §7 "channels share operations").

- **Where a user may file** (登记单位): the subtrees of their ``case.intake`` posts; grids only under a village
  or grid post (a township or district clerk files at village level or above: a grid's matter reaches the
  registry through its village or its grid worker). ``intake_units`` lists them for the form;
  ``origin_refusal`` is the same rule for one unit, applied by ``register_case`` whatever the channel.
- **Which units may handle a case** (办理单位): not a grid (not an organ), never a village for a petition (a
  village committee cannot accept or answer a petition item), never the accused unit of a 检举控告 case or a
  unit under it, not a closed unit. ``handling_refusal`` is that rule; intake (``default_handling_unit``,
  ``intake_handling_refusal``) and hand-down (``hand_down_refusal`` / ``hand_down_targets``) word it for their
  step, and the views build their options from the same functions. A hand-down also needs someone in the
  target's staff post (``unstaffed_refusal``: no dead ends); ``unit_receivers`` are who hear a case arrived.
- ``load_units`` turns the unit ids of a request into units with the same messages for the form and the API.

No Flask request here: operations and views both import this module.
"""

from __future__ import annotations

from sqlalchemy import or_, select, true

from center.cases.models import Case, CaseKind
from core.accounts.models import ROLE_LABELS, Role
from core.accounts.queries import leader_role, users_holding
from core.actor import Actor
from core.auth.permissions import granting
from core.auth.scoping import subtree_clause
from core.db import db
from core.errors import ValidationFailed
from core.org.models import TIER, OrgUnit, UnitKind

INTAKE = "case.intake"
#: Tiers of the posts that file at grid level (a village's cadres and the grid workers themselves).
GRID_FILERS = frozenset({"village", "grid"})

#: An id of no active unit, named by the field it came in (the form and the API use the same names).
UNKNOWN_UNIT = {"origin_unit_id": "请从列表中选择本辖区内的登记单位",
                "handling_unit_id": "请从列表中选择办理单位（该单位不存在或已停用）",
                "accused_unit_id": "请从列表中选择被检举控告的单位",
                "unit_id": "请从列表中选择单位（该单位不存在或已停用）"}
OUTSIDE_SCOPE = "请从列表中选择本辖区内的登记单位"
GRID_BY_UPPER_TIER = "网格的事项由所在村(社区)或网格员登记，请选择村(社区)或以上的登记单位"
HANDLING_OUTSIDE = "办理单位须在您的管辖范围内，或为来源单位的上级单位"
OTHER_DISTRICT = "办理单位须与来源单位同属一个区县"
ACCUSED_OTHER_DISTRICT = "被检举控告单位须与来源单位同属一个区县"
ACCUSED_DISTRICT = "检举控告区县本级的事项应向上一级机关反映：本平台没有可以办理的上级单位"
ACCUSED_GRID = "被检举控告单位请选择村(社区)或以上的单位"
CLOSED = "该单位已停用"

#: The handling rule worded for the step that applies it (the rule is the same; the clerk's action differs).
_WORDING = {
    "intake": {"grid": "网格不是办理单位，请选择村(社区)或以上单位",
               "village": "信访事项不能由村(社区)办理：村(居)民委员会不是信访事项的受理、办理机关",
               "accused": "检举控告事项不能由被检举控告单位或其下级单位办理"},
    "hand_down": {"grid": "网格不是办理单位，请交办到村(社区)",
                  "village": "信访事项不能交办到村(社区)：村(居)民委员会不是信访事项的受理、办理机关",
                  "accused": "检举控告事项不能交给被检举控告单位或其下级单位办理"},
}


def load_units(**ids: int | None) -> dict[str, OrgUnit | None]:
    """``load_units(origin_unit_id=3, handling_unit_id=None)`` → {field: OrgUnit or None}; an id of no active
    unit is a field error under its own name (every bad id at once)."""
    out: dict[str, OrgUnit | None] = {}
    errors: dict[str, list[str]] = {}
    for field, value in ids.items():
        if value is None:
            out[field] = None
            continue
        unit = db.session.get(OrgUnit, value) if isinstance(value, int) and 0 < value < 2**31 else None
        if unit is None or not unit.is_active:
            errors[field] = [UNKNOWN_UNIT.get(field, UNKNOWN_UNIT["unit_id"])]
        out[field] = unit
    if errors:
        raise ValidationFailed(errors)
    return out


def load_department(value: int | None):
    """The department a 转送 names, or None; an id of no active department is a field error (form and API)."""
    from core.org.models import Department

    if value is None:
        return None
    department = db.session.get(Department, value) if isinstance(value, int) and 0 < value < 2**31 else None
    if department is None or not department.is_active:
        raise ValidationFailed({"department_id": ["请从列表中选择部门（该部门不存在或已停用）"]})
    return department


def _district_id(unit: OrgUnit) -> int:
    return unit.ancestor_ids[0]


# --- where a user may file ------------------------------------------------------------------------------------

def _intake_posts(actor: Actor) -> list:
    return [m for m in granting(actor, INTAKE) if m.unit is not None]


def intake_units(actor: Actor) -> list[OrgUnit]:
    """Active units the actor may register a case at, in code order (the intake form's origin options)."""
    if actor.is_system:
        return list(db.session.scalars(select(OrgUnit).where(OrgUnit.is_active.is_(True)).order_by(OrgUnit.code)))
    arms = [subtree_clause(OrgUnit.path, m.unit.path)
            & (true() if m.unit.tier in GRID_FILERS else OrgUnit.kind != UnitKind.grid)
            for m in _intake_posts(actor)]
    if not arms:
        return []
    return list(db.session.scalars(select(OrgUnit).where(or_(*arms), OrgUnit.is_active.is_(True))
                                   .order_by(OrgUnit.code)))


def origin_refusal(actor: Actor, unit: OrgUnit) -> str | None:
    """Why the actor may not file at ``unit``, or None: the rule ``intake_units`` lists, for one unit. Jobs and
    CLI commands (the system actor) file anywhere active."""
    if not unit.is_active:
        return CLOSED
    if actor.is_system:
        return None
    covering = [m for m in _intake_posts(actor) if unit.is_within(m.unit)]
    if not covering:
        return OUTSIDE_SCOPE
    if unit.kind == UnitKind.grid and not any(m.unit.tier in GRID_FILERS for m in covering):
        return GRID_BY_UPPER_TIER
    return None


def accused_unit_options(actor: Actor) -> list:
    """Units an accusation may name: the non-grid units of the actor's districts (``accused_refusal`` then
    requires the origin's district), as (id, name, depth) rows — a district's ~1,200 units are options of
    a select on every intake form, never objects the form needs."""
    units = intake_units(actor)
    roots = sorted({_district_id(u) for u in units})
    if not roots:
        return []
    paths = [db.session.get(OrgUnit, r).path for r in roots]
    return list(db.session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.depth)
        .where(or_(*[subtree_clause(OrgUnit.path, p) for p in paths]), OrgUnit.kind != UnitKind.grid,
               OrgUnit.is_active.is_(True), OrgUnit.parent_id.is_not(None))
        .order_by(OrgUnit.code)))


def accused_refusal(origin: OrgUnit, accused: OrgUnit) -> str | None:
    if _district_id(accused) != _district_id(origin):
        return ACCUSED_OTHER_DISTRICT
    if accused.kind == UnitKind.grid:
        return ACCUSED_GRID
    if accused.parent is None:
        # nobody on the platform stands above the district itself: such a matter goes to the organ above it
        return ACCUSED_DISTRICT
    return None


# --- which units may handle -----------------------------------------------------------------------------------

def handling_refusal(kind: CaseKind, unit: OrgUnit, accused_unit: OrgUnit | None = None, *,
                     step: str = "intake") -> str | None:
    """Why ``unit`` may not handle a case of ``kind`` (accusing ``accused_unit``), or None."""
    wording = _WORDING[step]
    if unit.kind == UnitKind.grid:
        return wording["grid"]
    if kind == CaseKind.petition and unit.tier == "village":
        return wording["village"]
    if accused_unit is not None and unit.is_within(accused_unit):
        return wording["accused"]
    if not unit.is_active:
        return CLOSED
    return None


def default_handling_unit(kind: CaseKind, origin: OrgUnit, accused_unit: OrgUnit | None = None) -> OrgUnit:
    """Where a case is handled unless the clerk routes it: the nearest unit at or above the origin that may
    handle it — a grid's case goes to its village, a petition to the township or district, and a 检举控告
    case above the unit it accuses (its users could not even open it)."""
    unit = origin
    while unit.parent is not None and handling_refusal(kind, unit, accused_unit) is not None:
        unit = unit.parent
    return unit


def intake_handling_units(actor: Actor) -> list[OrgUnit]:
    """The handling units a clerk may name at intake (form options): the non-grid units of their intake
    posts' subtrees and the units above those posts. ``intake_handling_refusal`` decides for a given case."""
    units = [u for u in intake_units(actor) if u.kind != UnitKind.grid]
    seen = {u.id for u in units}
    above = sorted({i for m in _intake_posts(actor) for i in m.unit.ancestor_ids[:-1]} - seen)
    if above:
        units += list(db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(above), OrgUnit.is_active.is_(True))))
    return sorted(units, key=lambda u: u.code)


def intake_handling_refusal(actor: Actor, kind: CaseKind, origin: OrgUnit, unit: OrgUnit,
                            accused_unit: OrgUnit | None = None) -> str | None:
    """Why the clerk may not route a new case to ``unit``, or None: a unit of their own intake jurisdiction,
    or one above the origin (where it would go anyway), of the origin's district, that may handle it."""
    in_scope = actor.is_system or origin.is_within(unit) or any(unit.is_within(m.unit) for m in _intake_posts(actor))
    if not in_scope:
        return HANDLING_OUTSIDE
    if _district_id(unit) != _district_id(origin):
        return OTHER_DISTRICT
    return handling_refusal(kind, unit, accused_unit)


# --- hand-down (交办) and escalation (上报) targets ----------------------------------------------------------------

#: Who works a case at a unit of each tier (the post a hand-down needs someone in); its leaders are
#: ``core.accounts.queries.leader_role``'s.
STAFF_ROLES = {"district": (Role.center_staff,), "township": (Role.township_staff, Role.center_staff),
               "village": (Role.village_cadre,)}


def unit_staff(unit: OrgUnit) -> list:
    """Active users holding the unit's staff post exactly at ``unit`` (not above, not below)."""
    roles = STAFF_ROLES.get(unit.tier, ())
    return users_holding(roles, unit_ids=[unit.id]) if roles else []


def unit_receivers(unit: OrgUnit) -> list:
    """Who hears that a case arrived at ``unit``: its staff and its leaders (active, exactly there), each once."""
    leader = leader_role(unit.tier)
    roles = STAFF_ROLES.get(unit.tier, ()) + ((leader,) if leader is not None else ())
    return users_holding(roles, unit_ids=[unit.id]) if roles else []  # one query (the leaders_of post too)


def unstaffed_refusal(unit: OrgUnit, step: str = "交办") -> str | None:
    """"青石村没有在岗的村(社区)干部，无法交办": no dead end — a case never lands where nobody works it."""
    roles = STAFF_ROLES.get(unit.tier, ())
    if not roles or unit_staff(unit):
        return None
    return f"{unit.name}没有在岗的{ROLE_LABELS[roles[0]]}，无法{step}"


def _staffed_unit_ids(path: str) -> set[int]:
    """Units of the subtree at ``path`` with an active user in their own tier's staff post (``unit_staff``)
    — one query, so the hand-down options of a district case (a thousand villages) cost no query per unit."""
    from core.accounts.models import Membership, User

    roles = sorted({str(r) for tier_roles in STAFF_ROLES.values() for r in tier_roles})
    rows = db.session.execute(
        select(OrgUnit.id, OrgUnit.kind, Membership.role).join(Membership, Membership.unit_id == OrgUnit.id)
        .join(User, Membership.user_id == User.id)
        .where(subtree_clause(OrgUnit.path, path), OrgUnit.is_active.is_(True), Membership.role.in_(roles),
               Membership.is_active.is_(True), User.is_active.is_(True)).distinct())
    return {unit_id for unit_id, kind, role in rows
            if str(role) in {str(r) for r in STAFF_ROLES.get(TIER[UnitKind(kind)], ())}}


def hand_down_refusal(case: Case, unit: OrgUnit, *, staffed: set[int] | None = None) -> str | None:
    """Why ``unit`` may not receive ``case`` handed down (交办), or None: a unit below the handling one that
    may handle the case, with someone in its staff post (``staffed``: the units known to have someone, when
    the caller looked them up at once)."""
    current = case.handling_unit
    if unit.id == current.id or not unit.is_within(current):
        return "只能交办给本单位的下级单位"
    refusal = handling_refusal(case.kind, unit, case.accused_unit, step="hand_down")
    if refusal or (staffed is not None and unit.id in staffed):
        return refusal
    return unstaffed_refusal(unit)


def hand_down_targets(case: Case) -> list[OrgUnit]:
    """Every unit ``hand_down_refusal`` accepts, in code order (the hand-down form offers exactly these)."""
    current = case.handling_unit
    rows = db.session.scalars(select(OrgUnit).where(subtree_clause(OrgUnit.path, current.path),
                                                    OrgUnit.id != current.id, OrgUnit.kind != UnitKind.grid,
                                                    OrgUnit.is_active.is_(True))
                              .order_by(OrgUnit.code))
    staffed = _staffed_unit_ids(current.path)
    return [u for u in rows if u.id in staffed and hand_down_refusal(case, u, staffed=staffed) is None]


def escalation_targets(case: Case, *, staffed_only: bool = True) -> list[OrgUnit]:
    """Units above the handling unit, nearest first, except the accused unit of a 检举控告 case and above it;
    with ``staffed_only`` (what is offered) only those with someone in their staff post."""
    units = [db.session.get(OrgUnit, i) for i in reversed(case.handling_unit.ancestor_ids[:-1])]
    units = [u for u in units if u is not None and handling_refusal(case.kind, u, case.accused_unit) is None]
    return [u for u in units if unstaffed_refusal(u) is None] if staffed_only else units
