"""Notifications' permissions, registered into core.auth.registry by notify.init_app.

``grid.bind`` is declared here because notify owns the step it guards: issuing a grid worker's WeChat
binding code (notify.bindings); village/'s list of grid workers and the kernel's dual control only consult it.
"""

from __future__ import annotations

from core.accounts.models import Role
from core.auth.registry import register_permission

R = Role


def init_app(app) -> None:
    register_permission("notify.manage", "管理消息通知", (R.system_admin,))
    register_permission("grid.bind", "为网格员生成微信绑定码", (R.system_admin, R.village_head, R.village_cadre))
