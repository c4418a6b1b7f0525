"""The audit log's permission, registered into core.auth.registry from the app factory: the auditor reads it."""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission


def init_app(app) -> None:
    register_permission("audit.read", "查阅审计日志", (Role.auditor,))
