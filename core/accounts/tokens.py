"""API tokens: issue, revoke, list and verify bearer tokens for the JSON API (/api/v1).

Tokens are personal (三权分立: no account can act as another). A person issues and revokes their own tokens;
nobody issues a token in another person's name. Only the security administrator issues tokens to *service
accounts* (accounts that never sign in interactively), each scoped to a list of API actions (registered by the
API in ``core.hooks.api_scopes``) and a unit subtree; center/api/auth.py enforces the scope. An administrator
may revoke anyone's token in their jurisdiction (``token.revoke``).

A token expires (``API_TOKEN_DAYS``, 90 by default, is also the longest lifetime one may choose) and ends when
its owner's password changes or the account is disabled. The plain token ("mdt_" + 43 URL-safe characters) is
returned once, to be shown once; only its SHA-256 is stored, with its first characters as a ``prefix``.
Tokens are revoked, never deleted. ``verify_token`` answers who a request may act as, or why not; it reads on a
short connection of its own and touches ``last_used_at`` at most once a minute in a short transaction of its
own, so a bearer request stays read-only on SQLite until its view writes. Operations take the actor, check
permission first, write their audit row and never commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from core.accounts.models import AccountKind, ApiToken, User
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import can, require
from core.db import db, get_or_404, own_transaction, short_read, utcnow
from core.errors import PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mdt_"
#: "mdt_" + secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
TOKEN_RE = re.compile(r"^mdt_[A-Za-z0-9_-]{43}$")
PREFIX_LENGTH = 12
LABEL_MAX = 100
#: ``last_used_at`` is written at most this often per token.
TOUCH_INTERVAL = timedelta(minutes=1)
REVOKE = "token.revoke"
ISSUE_SERVICE = "service_token.issue"
NOT_YOURS = "接口令牌只能由本人签发，不能以他人名义签发"
SERVICE_ONLY_BY_SECADMIN = "接口服务账户的令牌只能由安全管理员签发"
#: revoked_reason values (shown on the token lists)
REVOKED_REASONS = {"revoked": "已撤销", "password_changed": "修改密码后失效", "disabled": "账户停用后失效"}


def token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def new_plain_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_days() -> int:
    return int(current_app.config["API_TOKEN_DAYS"])


def _check_common(user: User, *, label: str, expires_at: datetime | None, now: datetime) -> tuple[str, datetime]:
    """Label and expiry (default: the longest lifetime allowed) of a new token; Chinese errors per field."""
    label = (label or "").strip()
    errors: dict[str, list[str]] = {}
    if not label:
        errors["label"] = ["请填写令牌用途"]
    elif len(label) > LABEL_MAX:
        errors["label"] = [f"用途不超过 {LABEL_MAX} 个字"]
    longest = now + timedelta(days=token_days())
    if expires_at is None:
        expires_at = longest
    elif expires_at <= now:
        errors["expires_on"] = ["有效期须晚于今天"]
    elif expires_at > longest + timedelta(days=1):  # "through the chosen day" may end at the next midnight
        errors["expires_on"] = [f"有效期最长 {token_days()} 天"]
    if not user.is_active:
        errors["username"] = ["该用户已停用，不能签发令牌"]
    elif not any(m.is_effective for m in user.memberships):
        errors["username"] = ["该用户没有有效岗位，不能签发令牌"]
    if errors:
        raise ValidationFailed(errors)
    return label, expires_at


def _mint(user: User, *, label: str, expires_at: datetime, actor: Actor, now: datetime, scope_actions=None,
          scope_unit=None) -> tuple[ApiToken, str]:
    plain = new_plain_token()
    token = ApiToken(user=user, user_id=user.id, label=label, token_hash=token_hash(plain),
                     prefix=plain[:PREFIX_LENGTH], created_by_user_id=actor.user_id, created_at=now,
                     expires_at=expires_at, scope_actions=scope_actions,
                     scope_unit=scope_unit, scope_unit_id=scope_unit.id if scope_unit is not None else None)
    db.session.add(token)
    db.session.flush()
    changed = ["label", "expires_at", "token_hash"] + (["scope_actions", "scope_unit_id"] if scope_actions else [])
    record(actor, "api_token.issued", token, changed=changed)
    logger.info("api token %s issued for user %s by %s", token.prefix, user.id, actor)
    return token, plain


class FactorRequired(PermissionDenied):
    """Issuing a token is a sensitive act: the second factor given in the last ten minutes (step-up)."""

    default_message = "签发接口令牌前须验证动态口令（10 分钟内有效）"


def require_fresh_factor(actor: Actor) -> None:
    from flask import current_app

    if actor.is_system or not current_app.config.get("SECOND_FACTOR_ENFORCED", True):
        return
    if not actor.factor_is_fresh():
        raise FactorRequired(action="factor.fresh")


def issue_token(user: User, *, label: str, actor: Actor, expires_at: datetime | None = None,
                now: datetime | None = None) -> tuple[ApiToken, str]:
    """A personal token: (row, plain token). Only the user themselves (or the server console) issues it — an
    administrator who could mint a token in a clerk's name could act as her. The plain token exists only in
    this return value."""
    if user.kind == AccountKind.service:
        raise PermissionDenied(SERVICE_ONLY_BY_SECADMIN, action=ISSUE_SERVICE)
    if not actor.is_system and actor.user_id != user.id:
        raise PermissionDenied(NOT_YOURS, action="api_token.issue")
    require_fresh_factor(actor)
    now = now or utcnow()
    label, expires_at = _check_common(user, label=label, expires_at=expires_at, now=now)
    return _mint(user, label=label, expires_at=expires_at, actor=actor, now=now)


def issue_service_token(account: User, *, label: str, actions, unit, actor: Actor,
                        expires_at: datetime | None = None, now: datetime | None = None) -> tuple[ApiToken, str]:
    """A service account's token, scoped to API ``actions`` and the subtree of ``unit``: the request acts only
    with the account's memberships placed inside that subtree (center/api/auth.py)."""
    from core import hooks

    require(actor, ISSUE_SERVICE, account)
    require_fresh_factor(actor)
    if account.kind != AccountKind.service:
        raise ValidationFailed({"username": ["只能为接口服务账户签发令牌；人员的令牌由本人在「我的账户」中签发"]})
    now = now or utcnow()
    label, expires_at = _check_common(account, label=label, expires_at=expires_at, now=now)
    errors: dict[str, list[str]] = {}
    actions = sorted(set(actions or ()))
    if not actions:
        errors["actions"] = ["请至少选择一项接口权限"]
    elif any(a not in hooks.api_scopes for a in actions):
        errors["actions"] = ["接口权限不在可选范围内"]
    if unit is None or not can(actor, ISSUE_SERVICE, unit):
        errors["unit_code"] = ["单位代码不存在或不在您的管辖范围内"]
    elif not any(m.is_effective and m.place_path.startswith(unit.path) for m in account.memberships):
        errors["unit_code"] = ["该服务账户在所选单位及其下级没有有效岗位，令牌将无法使用"]
    if errors:
        raise ValidationFailed(errors)
    return _mint(account, label=label, expires_at=expires_at, actor=actor, now=now, scope_actions=actions,
                 scope_unit=unit)


def may_revoke(actor: Actor, token: ApiToken) -> bool:
    return actor.is_system or actor.user_id == token.user_id or can(actor, REVOKE, token.user)


def revoke_token(token: ApiToken, *, actor: Actor, now: datetime | None = None) -> bool:
    """Revoke a token — its owner, or an administrator over the owner; False (nothing written) when it already
    was."""
    if not may_revoke(actor, token):
        raise PermissionDenied(action=REVOKE)
    if token.revoked_at is not None:
        return False
    token.revoked_at = now or utcnow()
    token.revoked_reason = "revoked"
    record(actor, "api_token.revoked", token, changed=["revoked_at", "revoked_reason"])
    logger.info("api token %s revoked by %s", token.prefix, actor)
    return True


def end_user_tokens(user: User, *, reason: str, now: datetime | None = None) -> int:
    """End every live token of ``user`` (password changed, account disabled); the caller's audit row names it.
    One UPDATE, so a token presented meanwhile is refused either way (verify_token checks both causes too)."""
    result = db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                .values(revoked_at=now or utcnow(), revoked_reason=reason)
                                .execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


def tokens_query(actor: Actor):
    """Tokens of the users in the actor's jurisdiction for token.revoke (the administrators' list)."""
    from core.accounts.queries import users_query

    managed = users_query(actor, REVOKE).with_only_columns(User.id)
    return select(ApiToken).where(ApiToken.user_id.in_(managed))


def own_tokens_query(actor: Actor):
    return select(ApiToken).where(ApiToken.user_id == actor.user_id)


def list_own_tokens(actor: Actor, *, limit: int = 200) -> list[ApiToken]:
    return list(db.session.scalars(own_tokens_query(actor).order_by(ApiToken.created_at.desc(),
                                                                    ApiToken.id.desc()).limit(limit)))


def get_own_token_or_404(token_id, *, actor: Actor) -> ApiToken:
    return get_or_404(own_tokens_query(actor), token_id)


def list_tokens(actor: Actor, *, limit: int = 500) -> list[ApiToken]:
    return list(db.session.scalars(tokens_query(actor).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
                                   .limit(limit)))


def get_token_or_404(token_id, *, actor: Actor) -> ApiToken:
    return get_or_404(tokens_query(actor), token_id)


@dataclass(frozen=True)
class Verified:
    user_id: int | None
    #: why the token was refused (for the security event), None when accepted
    reason: str | None = None
    token_id: int | None = None
    #: a service token's scope: the API actions it may call and the path of its unit subtree (None: personal)
    scope_actions: tuple[str, ...] | None = None
    scope_path: str | None = None


def verify_token(plain: str, *, now: datetime | None = None) -> Verified:
    """The user a presented token stands for, checked on a short connection of its own."""
    if not isinstance(plain, str) or not TOKEN_RE.fullmatch(plain):
        return Verified(None, "malformed")
    now = now or utcnow()
    with short_read() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(plain)))
        if row is None:
            return Verified(None, "unknown")
        token_id, user, last_used = row.id, row.user, row.last_used_at
        if row.revoked_at is not None:
            return Verified(None, row.revoked_reason if row.revoked_reason in REVOKED_REASONS else "revoked",
                            token_id)
        # Tokens from before expiry was compulsory carry none: they last the default lifetime from issue.
        expires_at = row.expires_at or row.created_at + timedelta(days=token_days())
        if expires_at <= now:
            return Verified(None, "expired", token_id)
        if not user.is_active:
            return Verified(None, "user_disabled", token_id)
        if user.kind == AccountKind.person and row.created_at < user.password_changed_at:
            return Verified(None, "password_changed", token_id)  # a token never outlives the password it rode on
        if not any(m.is_effective for m in user.memberships):
            return Verified(None, "no_membership", token_id)
        scope_actions = scope_path = None
        if user.kind == AccountKind.service:
            if not row.scope_actions or row.scope_unit is None:
                return Verified(None, "no_scope", token_id)
            scope_actions, scope_path = tuple(row.scope_actions), row.scope_unit.path
        elif row.scope_actions is not None:
            return Verified(None, "no_scope", token_id)  # scopes belong to service tokens only
        user_id = user.id
    if last_used is None or now - last_used >= TOUCH_INTERVAL:
        with own_transaction() as s:  # conditional: concurrent requests write it once
            s.execute(update(ApiToken).where(ApiToken.id == token_id, or_(
                ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_INTERVAL))
                .values(last_used_at=now))
    return Verified(user_id, None, token_id, scope_actions, scope_path)
