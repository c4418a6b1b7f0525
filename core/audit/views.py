"""The auditor's read-only view of the audit log. No route updates or deletes an entry."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request

from core import hooks
from core.audit.chain import latest_verification
from core.audit.queries import PAGE_SIZE, list_entries
from core.auth.decorators import permission
from core.web import current_actor

bp = Blueprint("audit", __name__, url_prefix="/admin")

#: Chinese names of the kernel's own audit actions (codes stay in the data; unknown codes are shown as they are).
#: Features register theirs at init_app (``core.hooks.register_audit_labels``), like their permissions.
ACTION_LABELS = {
    "login": "登录", "logout": "退出", "login.failed": "登录失败", "login.locked": "锁定中尝试登录",
    "login.lockout": "登录锁定", "login.unlocked": "解除锁定", "permission.denied": "越权访问被拒绝",
    "user.created": "新建用户", "user.updated": "修改用户", "user.enabled": "启用用户", "user.disabled": "停用用户",
    "user.password_changed": "修改密码", "user.password_reset": "重置密码", "user.sessions_revoked": "强制下线",
    "membership.added": "添加岗位", "membership.ended": "撤销岗位", "membership.proposed": "提议岗位",
    "membership.activated": "激活岗位", "membership.refused": "拒绝激活岗位",
    "admin_request.created": "申请管理员账户操作", "admin_request.approved": "批准管理员账户操作",
    "admin_request.rejected": "驳回管理员账户操作", "admin_request.cancelled": "撤回管理员账户操作申请",
    "admin_request.executed": "执行管理员账户操作", "accounts.break_glass": "控制台紧急恢复管理员账户",
    "login.service_account": "接口服务账户尝试登录", "security.policy_updated": "修改安全策略",
    "api_token.issued": "签发接口令牌", "api_token.revoked": "吊销接口令牌",
    "org.unit_created": "新建单位", "org.unit_updated": "修改单位", "org.unit_enabled": "启用单位",
    "org.unit_disabled": "停用单位", "org.department_created": "新建部门", "org.department_updated": "修改部门",
    "org.department_enabled": "启用部门", "org.department_disabled": "停用部门", "org.imported": "导入组织机构",
    "demo.loaded": "加载示范数据",
    "calendar.day_set": "设置节假日", "calendar.day_cleared": "清除节假日", "calendar.year_published": "发布节假日安排",
}
OBJECT_LABELS = {"users": "用户", "org_units": "单位", "departments": "部门", "memberships": "岗位", "route": "页面",
                 "action": "操作", "security_policies": "安全策略", "api_tokens": "接口令牌",
                 "admin_requests": "管理员操作申请"}


def action_labels() -> dict[str, str]:
    """The kernel's labels over those the features registered (the audit log page shows these)."""
    return {**hooks.audit_action_labels, **ACTION_LABELS}


def object_labels() -> dict[str, str]:
    return {**hooks.audit_object_labels, **OBJECT_LABELS}


RESULTS = {"ok": "成功", "denied": "拒绝", "failed": "失败", "locked": "锁定"}


@bp.route("/audit")
@permission("audit.read")
def index():
    args = request.args
    day = None
    error = None
    if args.get("day"):
        try:
            day = date.fromisoformat(args["day"])
        except ValueError:
            error = "日期格式无效，请按 2026-11-23 的格式填写"
    before = args.get("before", type=int)
    result = args.get("result") if args.get("result") in RESULTS else None
    entries = list_entries(current_actor(), action=args.get("action", "").strip()[:64] or None,
                           actor_name=args.get("actor", "").strip()[:64] or None, result=result, day=day,
                           before_id=before)
    return render_template("core/audit.html", entries=entries, verification=latest_verification(), args=args, results=RESULTS, error=error,
                           action_labels=action_labels(), object_labels=object_labels(),
                           next_before=entries[-1].id if len(entries) == PAGE_SIZE else None)
