"""API tokens: issue, revoke, list and verify bearer tokens for the JSON API (/api/v1).

An admin holding ``user.manage`` over a user issues a token for them. The plain token ("mdt_" + 43 URL-safe
characters) is returned once, to be shown once; only its SHA-256 is stored, with its first characters as a
``prefix`` that lets the admin tell tokens apart. Tokens are revoked, never deleted. ``verify_token`` answers
the user id a request may act as, or None (unknown, revoked or expired token, disabled user, user without an
effective membership); it reads on a short connection of its own and touches ``last_used_at`` at most once a
minute in a short transaction of its own, so a bearer request stays read-only on SQLite until its view writes.
Operations take the actor, check permission first, write their audit row and never commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from core.accounts.models import ApiToken, User
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.db import db, own_transaction, short_read, utcnow
from core.errors import ValidationFailed

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mdt_"
#: "mdt_" + secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
TOKEN_RE = re.compile(r"^mdt_[A-Za-z0-9_-]{43}$")
PREFIX_LENGTH = 12
LABEL_MAX = 100
#: ``last_used_at`` is written at most this often per token.
TOUCH_INTERVAL = timedelta(minutes=1)


def token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def new_plain_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(user: User, *, label: str, actor: Actor, expires_at: datetime | None = None,
                now: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``: (row, plain token). The plain token exists only in this return value."""
    require(actor, "user.manage", user)
    now = now or utcnow()
    label = (label or "").strip()
    errors: dict[str, list[str]] = {}
    if not label:
        errors["label"] = ["请填写令牌用途"]
    elif len(label) > LABEL_MAX:
        errors["label"] = [f"用途不超过 {LABEL_MAX} 个字"]
    if expires_at is not None and expires_at <= now:
        errors["expires_on"] = ["有效期须晚于今天"]
    if not user.is_active:
        errors["username"] = ["该用户已停用，不能签发令牌"]
    elif not any(m.is_effective for m in user.memberships):
        errors["username"] = ["该用户没有有效岗位，不能签发令牌"]
    if errors:
        raise ValidationFailed(errors)
    plain = new_plain_token()
    token = ApiToken(user=user, user_id=user.id, label=label, token_hash=token_hash(plain),
                     prefix=plain[:PREFIX_LENGTH], created_by_user_id=actor.user_id, created_at=now,
                     expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    record(actor, "api_token.issued", token, changed=["label", "expires_at", "token_hash"])
    logger.info("api token %s issued for user %s by %s", token.prefix, user.id, actor)
    return token, plain


def revoke_token(token: ApiToken, *, actor: Actor, now: datetime | None = None) -> bool:
    """Revoke a token; False (and nothing written) when it already was."""
    require(actor, "user.manage", token.user)
    if token.revoked_at is not None:
        return False
    token.revoked_at = now or utcnow()
    record(actor, "api_token.revoked", token, changed=["revoked_at"])
    logger.info("api token %s revoked by %s", token.prefix, actor)
    return True


def tokens_query(actor: Actor):
    """Tokens of the users the actor may manage (core.accounts.queries.users_query for user.manage)."""
    from core.accounts.queries import users_query

    managed = users_query(actor, "user.manage").with_only_columns(User.id)
    return select(ApiToken).where(ApiToken.user_id.in_(managed))


def list_tokens(actor: Actor, *, limit: int = 500) -> list[ApiToken]:
    return list(db.session.scalars(tokens_query(actor).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
                                   .limit(limit)))


def get_token_or_404(token_id, *, actor: Actor) -> ApiToken:
    from core.errors import NotFound, as_id

    token = db.session.scalar(tokens_query(actor).where(ApiToken.id == as_id(token_id)))
    if token is None:
        raise NotFound()
    return token


@dataclass(frozen=True)
class Verified:
    user_id: int | None
    #: why the token was refused (for the security event), None when accepted
    reason: str | None = None
    token_id: int | None = None


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
            return Verified(None, "revoked", token_id)
        if row.expires_at is not None and row.expires_at <= now:
            return Verified(None, "expired", token_id)
        if not user.is_active:
            return Verified(None, "user_disabled", token_id)
        if not any(m.is_effective for m in user.memberships):
            return Verified(None, "no_membership", token_id)
        user_id = user.id
    if last_used is None or now - last_used >= TOUCH_INTERVAL:
        with own_transaction() as s:  # conditional: concurrent requests write it once
            s.execute(update(ApiToken).where(ApiToken.id == token_id, or_(
                ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_INTERVAL))
                .values(last_used_at=now))
    return Verified(user_id, None, token_id)
