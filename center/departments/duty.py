"""Is a rotating (轮驻) department on duty at a moment? The hook the rota calendar will fill.

DOMAIN.md §1: rotating departments are present on a rota (period and weekday pattern configurable, published
monthly). Until that rota exists no rule is registered and a rotating department counts as on duty whenever
one of its own users takes a queued case (they come to the center and work their queue). The rota module
registers its rule here at init_app: ``register_duty_rule(lambda department, at: ...)``; ``take`` then
refuses a department that is off duty, and the desk shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.org.models import Department, DepartmentKind

DutyRule = Callable[[Department, datetime], bool]

_rule: DutyRule | None = None


def register_duty_rule(rule: DutyRule | None) -> None:
    """Install the rota's answer (None removes it: every rotating department counts as on duty)."""
    global _rule
    _rule = rule


def on_duty(department: Department, at: datetime) -> bool:
    """Resident and on-call departments are not on a rota: always True for them."""
    if department.kind != DepartmentKind.rotating or _rule is None:
        return True
    return bool(_rule(department, at))
