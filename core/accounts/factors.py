"""Second factor for staff (GB/T 22239-2019 §8.1.4.1 d): TOTP (RFC 6238) that works offline, enrolment with a
QR the app draws itself, ten one-time recovery codes.

Which roles need it is the security policy's (``factor_roles``; by default every staff role but grid
workers, whose bound WeChat identity is their factor on the phone). The HMAC is the crypto provider's
(``CryptoProvider.otp_mac``), so an SM3-based variant can replace HMAC-SHA1 for 密评 without touching this
module. A code is accepted once: the step it was made for is stored, and a step at or before it is refused
(a conditional UPDATE, so two requests carrying one code cannot both pass). Operations take the actor, write
their audit rows and never commit.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
import time
from urllib.parse import quote

from sqlalchemy import delete, select, update

from core import hooks
from core.accounts.factor_models import RecoveryCode, UserFactor
from core.accounts.models import Role, SecurityPolicy, User
from core.actor import Actor
from core.audit.operations import record
from core.db import db, utcnow
from core.errors import ValidationFailed

PERIOD = 30
DIGITS = 6
#: steps either side of now accepted (a phone's clock a little off)
DRIFT = 1
RECOVERY_CODES = 10
ISSUER = "矛调通"
#: Every staff role but grid workers (see module docstring).
DEFAULT_ROLES = frozenset(r for r in Role if r != Role.grid_worker)
WRONG = "动态口令不正确或已使用过，请输入验证器上的最新 6 位数字"


def required_roles() -> frozenset[Role]:
    row = db.session.scalar(select(SecurityPolicy).order_by(SecurityPolicy.id).limit(1))
    if row is None or row.factor_roles is None:
        return DEFAULT_ROLES
    return frozenset(Role(v) for v in row.factor_roles.split(",") if v in Role._value2member_map_)


def is_required(user: User) -> bool:
    """Whether ``user`` signs in with a second factor: one of their effective roles requires it."""
    from flask import current_app

    if not current_app.config.get("SECOND_FACTOR_ENFORCED", True) or user.is_service:
        return False
    roles = required_roles()
    return any(m.is_effective and m.role in roles for m in user.memberships)


def set_required_roles(roles: set[Role], *, actor: Actor) -> None:
    from core.auth.permissions import require

    require(actor, "security.policy")
    row = db.session.scalar(select(SecurityPolicy).order_by(SecurityPolicy.id).limit(1))
    if row is None:
        row = SecurityPolicy()
        db.session.add(row)
    row.factor_roles = ",".join(sorted(r.value for r in roles))
    db.session.flush()
    record(actor, "security.factor_roles", row, changed=["factor_roles"])


# --- TOTP ----------------------------------------------------------------------------------------------------

def _provider():
    from core.crypto import provider

    return provider()


def code_at(secret: bytes, step: int) -> str:
    """RFC 4226 §5.3 dynamic truncation of the provider's HMAC over the step counter."""
    mac = _provider().otp_mac(secret, struct.pack(">Q", step))
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // PERIOD)


def factor_of(user: User) -> UserFactor | None:
    return db.session.scalar(select(UserFactor).where(UserFactor.user_id == user.id))


def is_enrolled(user: User) -> bool:
    factor = factor_of(user)
    return factor is not None and factor.confirmed_at is not None


def _secret(factor: UserFactor) -> bytes:
    return base64.b32decode(_provider().decrypt(factor.secret))


def start_enrolment(user: User, *, actor: Actor) -> str:
    """A new unconfirmed secret for ``user`` (replacing an unconfirmed one); its base32 text. A confirmed
    factor is never replaced here: losing it is a reset by two administrators (dual_control)."""
    factor = factor_of(user)
    if factor is not None and factor.confirmed_at is not None:
        raise ValidationFailed({"code": ["已绑定验证器；如已丢失，请联系管理员按双人审批重置"]})
    text = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
    if factor is None:
        factor = UserFactor(user_id=user.id, secret="")
        db.session.add(factor)
    factor.secret, factor.created_at, factor.last_step = _provider().encrypt(text), utcnow(), None
    db.session.flush()
    record(actor, "factor.enrolment_started", user, changed=["user_factors"])
    return text


def enrolment_secret(user: User) -> str | None:
    factor = factor_of(user)
    if factor is None or factor.confirmed_at is not None:
        return None
    return _provider().decrypt(factor.secret)


def otpauth_uri(user: User, secret_text: str) -> str:
    label = quote(f"{ISSUER}:{user.username}")
    algorithm = _provider().otp_algorithm
    return (f"otpauth://totp/{label}?secret={secret_text}&issuer={quote(ISSUER)}&algorithm={algorithm}"
            f"&digits={DIGITS}&period={PERIOD}")


def _accept(factor: UserFactor, code: str, now: float | None) -> bool:
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):  # "１２３４５６" is digits too
        return False
    secret = _secret(factor)
    step = current_step(now)
    for candidate in range(step - DRIFT, step + DRIFT + 1):
        if hmac.compare_digest(code_at(secret, candidate), code):
            # Spent: a step at or before the last accepted one is a replay.
            done = db.session.execute(
                update(UserFactor).where(UserFactor.id == factor.id)
                .where((UserFactor.last_step.is_(None)) | (UserFactor.last_step < candidate))
                .values(last_step=candidate)).rowcount
            return done == 1
    return False


def confirm_enrolment(user: User, code: str, *, actor: Actor, now: float | None = None) -> list[str]:
    """The first code from the new authenticator confirms it; the ten recovery codes (shown once)."""
    factor = factor_of(user)
    if factor is None or factor.confirmed_at is not None:
        raise ValidationFailed({"code": ["请先扫描二维码绑定验证器"]})
    if not _accept(factor, code, now):
        raise ValidationFailed({"code": [WRONG]})
    factor.confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    record(actor, "factor.enrolled", user, changed=["user_factors", "recovery_codes"])
    hooks.announce("accounts.factor", user, {
        "title": "已绑定动态口令验证器",
        "body": f"您的账户 {user.username} 已绑定新的验证器。如非本人操作，请立即联系安全管理员。",
        "url": "/account", "status": "已绑定"}, key=f"factor-enrolled:{user.id}:{factor.id}:{int(time.time())}")
    return codes


def _code_hash(user: User, code: str) -> str:
    return _provider().blind_index(f"recovery:{user.id}:{code.replace('-', '').upper()}")


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed from paper
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(user, raw)))
    return codes


def verify(user: User, code: str, *, actor: Actor, now: float | None = None) -> str:
    """Check a sign-in's second factor: a TOTP code, or a recovery code (spent by its use). What was used
    ("totp" | "recovery"); ValidationFailed otherwise. The caller rate-limits (core.ratelimit)."""
    factor = factor_of(user)
    if factor is None or factor.confirmed_at is None:
        raise ValidationFailed({"code": ["尚未绑定验证器"]})
    text = (code or "").strip()
    if _accept(factor, text, now):
        record(actor, "factor.verified", user)
        return "totp"
    if len(text.replace("-", "")) == 10:
        spent = db.session.execute(
            update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
                                       RecoveryCode.code_hash == _code_hash(user, text))
            .values(used_at=utcnow())).rowcount
        if spent == 1:
            left = db.session.scalar(select(db.func.count()).select_from(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))
            record(actor, "factor.recovery_used", user, changed=["recovery_codes"])
            hooks.announce("accounts.factor", user, {
                "title": "恢复码已被使用",
                "body": f"您的账户 {user.username} 使用恢复码登录，还剩 {left} 个。如非本人操作，请立即联系安全管理员。",
                "url": "/account", "status": "恢复码登录"}, key=f"recovery-used:{user.id}:{left}")
            return "recovery"
    raise ValidationFailed({"code": [WRONG]})


def reset(user: User, *, actor: Actor) -> None:
    """Remove ``user``'s authenticator and recovery codes (a lost phone): carried out by dual control only,
    after one administrator asked and the third approved (core.accounts.dual_control). The user enrols
    anew at the next sign-in."""
    db.session.execute(delete(UserFactor).where(UserFactor.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record(actor, "factor.reset", user, changed=["user_factors", "recovery_codes"])
    hooks.announce("accounts.factor", user, {
        "title": "动态口令验证器已重置",
        "body": f"经两名管理员审批，您的账户 {user.username} 的验证器已重置。下次登录时请重新绑定。",
        "url": "/account", "status": "已重置"}, key=f"factor-reset:{user.id}:{int(time.time())}")
