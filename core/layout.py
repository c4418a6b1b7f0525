"""What the one layout shows: the user's unit and role, navigation per tier, the admin links."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from core import hooks

ADMIN_LINKS = [
    ("org.view", "组织机构", "org.units"),
    ("org.manage", "部门", "org.departments"),
    ("user.view", "用户与岗位", "users.index"),
    ("security.policy", "安全策略", "users.security_policy"),
    ("membership.activate", "待激活岗位", "users.pending_memberships"),
    ("admin.request", "管理员操作审批", "admin_requests.index"),
    ("audit.read", "审计日志", "audit.index"),
]


def layout_context() -> dict:
    if not current_user.is_authenticated:
        return {"nav_desks": [], "nav_admin": [], "current_membership": None, "all_memberships": (), "banners": [],
                "can": lambda action, target=None: False, "user_links": []}
    from core.auth.permissions import can, has_permission
    from core.web import current_actor

    actor = current_actor()
    desks = [(label, endpoint) for perm, label, endpoint, _ in hooks.desk_links if has_permission(actor, perm)]
    admin = [(label, endpoint) for perm, label, endpoint in [*ADMIN_LINKS, *hooks.admin_links]
             if has_permission(actor, perm)]
    banners = [b for provider in hooks.banner_providers for b in provider(actor)]
    return {
        "nav_desks": desks,
        "nav_admin": admin,
        "current_membership": actor.memberships[0] if actor.memberships else None,
        "all_memberships": actor.memberships,
        "current_endpoint": request.endpoint,
        "banners": banners,
        "can": lambda action, target=None: can(actor, action, target),
        "user_links": [link for link in hooks.user_links if has_permission(actor, link[0])],
    }
