"""The department desk, registered into core.auth.registry by center.departments.init_app: the head and the
liaisons of a department see and work what is assigned to it (the decisions on an assignment are the case
actions of center.cases.permissions)."""

from __future__ import annotations

from core.accounts.models import DEPARTMENT_ROLES
from core.auth.registry import register_permission


def init_app(app) -> None:
    register_permission("desk.department", "部门工作台", DEPARTMENT_ROLES)
