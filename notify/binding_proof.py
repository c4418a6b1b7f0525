"""Proof, on the phone being bound, that its holder is the binding code's user (三权分立: a code issued by
someone else — a village cadre, an administrator — must never turn into a session for the grid worker by
itself, or its issuer could sign in as them).

The holder proves it once, before the WeChat authorisation: with the user's password (checked by the login's
own ``authenticate``, so wrong guesses count towards the account's lockout), or with a six-digit code sent to a
channel the user already has (WeCom, Official Account, SMS). Every wrong proof also counts on the binding code
itself, which dies after ``MAX_PROOF_FAILURES``. Failures are written on their own short transaction (they must
survive the refused request), which is why the lookups here read on short connections of their own: on SQLite
the request's transaction would hold the write lock they need. The new binding is announced to the user on the
channels they had before it (``announce_new_binding``) and audited.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import update

from core.actor import Actor
from core.audit.operations import record, record_security_event
from core.crypto import provider
from core.db import db, own_transaction, short_read, utcnow
from core.errors import ValidationFailed
from notify.models import BindingCode, Platform

MAX_PROOF_FAILURES = 5
CODE_DEAD = "绑定码无效、已使用或已过期，请联系村（社区）干部重新生成。"
WRONG_PASSWORD = "密码不正确"
WRONG_OTP = "验证码不正确或已过期，请重新获取"
NO_PROOF = "请输入您的登录密码，或获取验证码后填写"
NO_CHANNEL = "您还没有能接收验证码的企业微信、微信或短信，请输入登录密码完成验证"
PLATFORM_LABELS = Platform.labels()


@dataclass(frozen=True)
class CodeOwner:
    code_id: int
    user_id: int
    username: str
    display_name: str


def code_owner(code: str) -> CodeOwner | None:
    """Whose live binding code this is, read on a short connection of its own."""
    from core.accounts.models import User
    from notify.bindings import live_code

    with short_read() as s:
        row = live_code(code, session=s)
        if row is None:
            return None
        user = s.get(User, row.user_id)
        if user is None or not user.is_active or user.is_service:
            return None
        return CodeOwner(row.id, user.id, user.username, user.display_name)


def _failed(owner: CodeOwner, actor: Actor, how: str) -> None:
    with own_transaction() as s:
        s.execute(update(BindingCode).where(BindingCode.id == owner.code_id)
                  .values(proof_failures=BindingCode.proof_failures + 1))
    record_security_event(actor, "wechat.bind_proof", result=f"failed_{how}", object_type="notify_binding_codes",
                          object_id=owner.code_id)


def prove(code: str, *, actor: Actor, password: str | None = None, otp: str | None = None,
          otp_state: dict | None = None) -> CodeOwner:
    """The code's owner, once the password or the one-time code (against ``otp_state``, kept in the phone's
    server-side session) proves it; ValidationFailed in Chinese otherwise."""
    from core.accounts.operations import LoginRefused, authenticate

    owner = code_owner(code)
    if owner is None:
        raise ValidationFailed({"code": [CODE_DEAD]})
    if password:
        try:
            authenticate(owner.username, password, actor=actor)
        except LoginRefused as exc:
            _failed(owner, actor, "password")
            raise ValidationFailed({"password": [exc.message if "锁定" in exc.message else WRONG_PASSWORD]}) from exc
        return owner
    if otp:
        state = otp_state or {}
        fresh = state.get("code_id") == owner.code_id and float(state.get("until", 0)) > utcnow().timestamp()
        if not fresh or not hmac.compare_digest(str(state.get("hash", "")), _otp_hash(owner.code_id, otp)):
            _failed(owner, actor, "otp")
            raise ValidationFailed({"otp": [WRONG_OTP]})
        return owner
    raise ValidationFailed({"password": [NO_PROOF]})


def _otp_hash(code_id: int, otp: str) -> str:
    return provider().blind_index(f"binding-proof:{code_id}:{otp.strip()}")


def send_proof_code(code: str, *, actor: Actor, minutes: int) -> tuple[dict, list[str]]:
    """Send a six-digit code to the user's existing channels: (the state the view keeps in the phone's session,
    the names of the channels it goes to)."""
    from core.accounts.models import User
    from notify.bindings import live_code, usable_channels
    from notify.models import CHANNEL_LABELS
    from notify.outbox import enqueue

    row = live_code(code)
    if row is None:
        raise ValidationFailed({"code": [CODE_DEAD]})
    user = db.session.get(User, row.user_id)
    channels = usable_channels(user.id) if user is not None else []
    if user is None or not user.is_active or user.is_service or not channels:
        raise ValidationFailed({"otp": [NO_CHANNEL]})
    otp = f"{secrets.randbelow(10 ** 6):06d}"
    until = utcnow().timestamp() + minutes * 60
    enqueue("wechat.bind_proof_code", user, {
        "title": "微信绑定验证码",
        "body": f"验证码 {otp}，{minutes} 分钟内有效。有人正在为您的账号绑定新的微信；如非本人操作，请勿把验证码告诉任何人，"
                "并联系村（社区）干部。",
        # confidential: the admin pages never show this body (an administrator reading the code could bind
        # his own phone to the grid worker's account)
        "url": "/account", "status": "验证码", "confidential": True},
        key=f"wx-bind-proof:{row.id}:{secrets.token_hex(8)}",
        priority="urgent")
    record(actor, "wechat.bind_proof_code_sent", row, object_type="notify_binding_codes", changed=[])
    return {"code_id": row.id, "hash": _otp_hash(row.id, otp), "until": until}, [
        CHANNEL_LABELS[c] for c, _b in channels]


def announce_new_binding(user, platform: Platform, *, code_id: int) -> None:
    """Tell the user on the channels they already have (queued before the new binding exists, so the first
    delivery cannot go to the phone just bound)."""
    from notify.outbox import enqueue

    enqueue("wechat.new_binding", user, {
        "title": "账号绑定了新的微信",
        "body": f"您的账号刚刚绑定了新的{PLATFORM_LABELS.get(platform, '微信')}身份。如非本人操作，请立即联系村（社区）干部"
                "或系统管理员解除绑定并修改密码。",
        "url": "/account/notifications/", "status": "已绑定"}, key=f"wx-bound:{code_id}", priority="urgent")

