"""The holiday table's permission, registered into core.auth.registry by core.calendar.init_app."""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission


def init_app(app) -> None:
    register_permission("calendar.manage", "维护节假日安排", (Role.system_admin,))
