"""The org tree's permissions, registered into core.auth.registry from the app factory."""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission

R = Role


def init_app(app) -> None:
    register_permission("org.view", "查看组织机构",
                        (R.system_admin, R.district_leader, R.center_staff, R.township_leader, R.township_staff,
                         R.village_head, R.village_cadre))
    register_permission("org.manage", "维护单位和部门", (R.system_admin,))
