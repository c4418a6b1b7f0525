"""The township desk, registered into core.auth.registry by township.init_app: the township's leaders and
staff, and the center staff of a township center (a center_staff membership at the district works the
district desk instead, center.desk.permissions)."""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission

R = Role


def init_app(app) -> None:
    register_permission("desk.township", "乡镇工作台", (R.township_leader, R.township_staff, R.center_staff),
                        tiers=("township",))
