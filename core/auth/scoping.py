"""Jurisdiction filters for queries. Every query on tier data goes through one of these.

A unit membership covers its unit's subtree (a range scan on the materialized path); a department
membership covers what is assigned to that department.
"""

from __future__ import annotations

from sqlalchemy import and_, false, or_, true

from core.actor import Actor
from core.auth.permissions import granting


def subtree_clause(path_column, prefix: str):
    """``path`` starts with ``prefix``, written as a range so a B-tree index serves it on both engines.
    Paths are "/<id>/<id>/": digits and '/', and '0' sorts right after '/'."""
    return and_(path_column >= prefix, path_column < prefix[:-1] + "0")


def scope_paths(actor: Actor, action: str) -> list[str] | None:
    """Paths of the subtrees the actor may act on for ``action``; None means everything (system)."""
    if actor.is_system:
        return None
    return sorted({m.unit.path for m in granting(actor, action) if m.unit is not None})


def scope_department_ids(actor: Actor, action: str) -> set[int] | None:
    if actor.is_system:
        return None
    return {m.department_id for m in granting(actor, action) if m.department_id is not None}


def unit_filter(actor: Actor, action: str, path_column):
    paths = scope_paths(actor, action)
    if paths is None:
        return true()
    # Drop paths nested inside another path of the same actor: fewer OR arms, same rows.
    outer = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
    clauses = [subtree_clause(path_column, p) for p in outer]
    return or_(*clauses) if clauses else false()


def unit_or_department_filter(actor: Actor, action: str, path_column, department_column):
    """Rows inside the actor's subtrees, or belonging to the actor's departments."""
    base = unit_filter(actor, action, path_column)
    dept_ids = scope_department_ids(actor, action)
    if dept_ids:
        return or_(base, department_column.in_(sorted(dept_ids)))
    return base
