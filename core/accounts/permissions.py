"""The accounts' permissions (三权分立, GB/T 22239-2019 §8.1.4.2 d), registered into core.auth.registry from the
app factory like every feature's: the system administrator creates and places accounts (memberships only
proposed), the security administrator grants rights (activates memberships, issues service tokens), the
auditor reads the audit log (core.audit.permissions). ``admin.request``: asking for, and as the third
administrator approving, an act on an administrator's account (core.accounts.dual_control). Nobody issues a
token in a person's name (core.accounts.tokens).
"""

from __future__ import annotations

from core.accounts.models import ADMIN_ROLES, Role
from core.auth.registry import register_permission

R = Role
#: Every signed-in person's own account: profile, password, own tokens, message settings.
SELF = "account.self"


def init_app(app) -> None:
    register_permission(SELF, "本人账户", tuple(Role))
    register_permission("admin.access", "进入管理后台", ADMIN_ROLES)
    register_permission("admin.request", "申请、批准管理员账户操作", ADMIN_ROLES)
    register_permission("user.view", "查看用户", (R.system_admin, R.security_admin))
    register_permission("user.manage", "新建、修改用户，提议岗位", (R.system_admin,))
    register_permission("user.unlock", "解除登录锁定", (R.security_admin,))
    register_permission("security.policy", "修改安全策略", (R.security_admin,))
    register_permission("membership.activate", "激活岗位", (R.security_admin,))
    register_permission("service_token.issue", "签发接口服务令牌", (R.security_admin,))
    register_permission("token.revoke", "吊销接口令牌", (R.system_admin, R.security_admin))
