"""Break-glass recovery on the server console (``flask accounts break-glass``): when an administrator is locked
out and no third administrator can approve a request (core.accounts.dual_control), whoever may log in to the
server itself resets that administrator's password, re-enables or unlocks the account.

Console only (the system actor), administrators' accounts only — everyone else is recovered by the system
administrator in the web. Each use is a row of admin_requests (channel "cli", no requester), audited, and
announced at once to every administrator of the district on their existing channels, so that it cannot happen
unnoticed. A reset password is generated here, printed once on the console and must be changed at the next
sign-in; only its hash is stored.
"""

from __future__ import annotations

import logging
import secrets
import string

from sqlalchemy import select

from core import hooks
from core.accounts.memberships import admin_roles
from core.accounts.models import ADMIN_ROLES, AdminActKind, AdminRequest, AdminRequestStatus, User
from core.actor import Actor
from core.audit.operations import record
from core.db import db
from core.errors import PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

KINDS = {"reset-password": AdminActKind.reset_password, "enable": AdminActKind.enable,
         "unlock": AdminActKind.unlock}
_SYMBOLS = "#%+=@"


def temporary_password(username: str) -> str:
    """A random password every policy accepts (four character classes, at least the policy's length)."""
    from core.accounts.operations import check_password_policy
    from core.accounts.policy import current_policy

    length = max(16, current_policy().min_length)
    alphabet = string.ascii_letters + string.digits + _SYMBOLS
    while True:
        core = "".join(secrets.choice(alphabet) for _ in range(length - 4))
        candidate = (core + secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_lowercase)
                     + secrets.choice(string.digits) + secrets.choice(_SYMBOLS))
        try:
            check_password_policy(candidate, username, field="password")
        except ValidationFailed:
            continue
        return candidate


def break_glass(username: str, *, kind: AdminActKind | str, reason: str, actor: Actor
                ) -> tuple[AdminRequest, str | None, int]:
    """Carry out a recovery act: (the recorded request, the temporary password or None, how many
    administrators were told)."""
    from core.accounts.dual_control import REASON_MAX, execute
    from core.accounts.passwords import hash_password
    from core.accounts.queries import users_holding

    if not actor.is_system:
        raise PermissionDenied("紧急恢复只能在服务器控制台执行", action="accounts.break_glass")
    kind = AdminActKind(kind)
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": [f"请填写理由（不超过 {REASON_MAX} 个字）"]})
    if kind not in KINDS.values():
        raise ValidationFailed({"kind": ["紧急恢复只能重置密码、启用账户或解除登录锁定"]})
    target = db.session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if target is None:
        raise ValidationFailed({"username": ["用户不存在"]})
    roles = admin_roles(target)
    if not roles:
        raise ValidationFailed({"username": ["紧急恢复只用于管理员账户；其他账户请由系统管理员在网页中办理"]})
    if kind == AdminActKind.enable and target.is_active:
        raise ValidationFailed({"kind": ["该账户未停用"]})
    plain = temporary_password(target.username) if kind == AdminActKind.reset_password else None
    req = AdminRequest(kind=kind, status=AdminRequestStatus.pending, target=target, target_user_id=target.id,
                       requested_by_user_id=None, requester_role=None, reason=reason,
                       password_hash=hash_password(plain) if plain else None, channel="cli")
    db.session.add(req)
    db.session.flush()
    record(actor, "accounts.break_glass", req, changed=["kind", "target_user_id", "reason"])
    execute(req, actor=actor)
    units = {m.unit_id for m in target.memberships if m.role in ADMIN_ROLES and m.is_effective and m.unit_id}
    # The target hears of it from execute(); every other administrator of the district hears of it here.
    recipients = {u.id: u for u in users_holding(ADMIN_ROLES, unit_ids=units) if u.id != target.id}
    for user in recipients.values():
        hooks.announce("accounts.break_glass", user, {
            "title": "管理员账户紧急恢复",
            "body": f"服务器控制台对管理员账户 {target.username} 执行了「{req.kind_label}」。理由：{reason}。"
                    "如非预期，请立即核查审计日志。",
            "url": "/admin/requests", "status": "紧急恢复"}, key=f"break-glass:{req.id}:{user.id}")
    logger.warning("break-glass %s on user %s from the console", kind, target.id)
    return req, plain, len(recipients) + 1
