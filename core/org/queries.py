"""Scoped reads of the org tree. Nothing outside the actor's jurisdiction is ever loaded."""

from __future__ import annotations

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from core.actor import Actor
from core.auth.scoping import subtree_clause, unit_filter
from core.db import db, get_or_404
from core.org.models import Department, OrgUnit, UnitKind


def units_query(actor: Actor, action: str = "org.view"):
    return select(OrgUnit).where(unit_filter(actor, action, OrgUnit.path))


def get_unit_or_404(unit_id, *, actor: Actor, action: str = "org.view") -> OrgUnit:
    return get_or_404(units_query(actor, action), unit_id)


def list_units(actor: Actor, *, parent: OrgUnit | None = None, kind: str | None = None, q: str | None = None,
               include_inactive: bool = False, action: str = "org.view", limit: int = 500) -> list[OrgUnit]:
    stmt = units_query(actor, action)
    if parent is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent.id)
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    if q:
        stmt = stmt.where(OrgUnit.name.contains(q) | OrgUnit.code.startswith(q))
    if not include_inactive:
        stmt = stmt.where(OrgUnit.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(OrgUnit.code).limit(limit)))


def top_units(actor: Actor, action: str = "org.view") -> list[OrgUnit]:
    """The outermost units of the actor's jurisdiction (where a tree view starts)."""
    from core.auth.scoping import scope_paths

    paths = scope_paths(actor, action)
    if paths is None:
        return list(db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.code)))
    outer = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
    return list(db.session.scalars(select(OrgUnit).where(OrgUnit.path.in_(outer)).order_by(OrgUnit.path)))


def subtree_counts(unit: OrgUnit) -> dict[str, int]:
    """How many units of each kind lie under ``unit`` (active ones)."""
    rows = db.session.execute(
        select(OrgUnit.kind, func.count()).where(subtree_clause(OrgUnit.path, unit.path), OrgUnit.id != unit.id,
                                                 OrgUnit.is_active.is_(True)).group_by(OrgUnit.kind))
    counts = {k.value: 0 for k in UnitKind}
    counts.update({str(kind): n for kind, n in rows})
    return counts


def child_counts(parent: OrgUnit, children: list[OrgUnit]) -> dict[int, dict[str, int]]:
    """``subtree_counts`` of each of ``children`` (units directly under ``parent``) in one grouped query
    instead of one per child (a district desk lists 27 townships, a township ~40 villages): each child's
    subtree is a path range of the index, joined, so the district's ~4,000 units are counted, not loaded."""
    counts = {c.id: {k.value: 0 for k in UnitKind} for c in children}
    if not children:
        return counts
    child, below = aliased(OrgUnit), aliased(OrgUnit)
    # the child's range as subtree_clause writes it: path >= "/p/c/" and path < "/p/c0"
    upper = func.substr(child.path, 1, func.length(child.path) - 1).concat("0")
    rows = db.session.execute(
        select(child.id, below.kind, func.count())
        .join(below, and_(below.path > child.path, below.path < upper))
        .where(child.id.in_([c.id for c in children]), below.is_active.is_(True))
        .group_by(child.id, below.kind))
    for child_id, kind, n in rows:
        counts[child_id][getattr(kind, "value", kind)] = n
    return counts


def departments_query(actor: Actor, action: str = "org.view"):
    from core.auth.scoping import scope_department_ids

    stmt = select(Department).join(OrgUnit, Department.unit_id == OrgUnit.id)
    clause = unit_filter(actor, action, OrgUnit.path)
    dept_ids = scope_department_ids(actor, action)
    if dept_ids:
        clause = clause | Department.id.in_(sorted(dept_ids))
    return stmt.where(clause)


def list_departments(actor: Actor, *, unit: OrgUnit | None = None, kind: str | None = None,
                     include_inactive: bool = False, action: str = "org.view") -> list[Department]:
    stmt = departments_query(actor, action)
    if unit is not None:
        stmt = stmt.where(Department.unit_id == unit.id)
    if kind:
        stmt = stmt.where(Department.kind == kind)
    if not include_inactive:
        stmt = stmt.where(Department.is_active.is_(True))
    kind_order = case({"resident": 0, "rotating": 1, "on_call": 2}, value=Department.kind)
    return list(db.session.scalars(stmt.order_by(OrgUnit.code, kind_order, Department.id)))


def get_department_or_404(dept_id, *, actor: Actor, action: str = "org.view") -> Department:
    return get_or_404(departments_query(actor, action), dept_id)


def unit_by_code(code: str) -> OrgUnit | None:
    """Unscoped lookup for the importer's parent check; the caller then checks jurisdiction."""
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
