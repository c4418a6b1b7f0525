"""Helpers shared by the tier desks: which unit a desk shows for the actor."""

from __future__ import annotations

from core.actor import Actor
from core.auth.permissions import granting
from core.errors import NotFound


def desk_unit(actor: Actor, desk_permission: str, unit_id: int | None = None):
    """The unit of the actor's membership that grants ``desk_permission`` (the chosen one if several)."""
    units = [m.unit for m in granting(actor, desk_permission) if m.unit is not None]
    if not units:
        raise NotFound()
    if unit_id is None:
        return units[0]
    for unit in units:
        if unit.id == unit_id:
            return unit
    raise NotFound()
