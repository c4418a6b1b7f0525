"""Account operations. Each takes the actor explicitly, checks permission first, writes its audit row
and never commits (the caller does)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.accounts.models import (
    NO_PASSWORD,
    AccountKind,
    LoginThrottle,
    Membership,
    PasswordHistory,
    Role,
    SecurityPolicy,
    User,
)
from core.accounts.passwords import burn_hash, hash_password, policy_errors, verify_password
from core.accounts.policy import FIELDS, current_policy, invalidate_cache
from core.accounts.sessions import end_user_sessions_stmt
from core.actor import Actor
from core.audit.operations import changed_fields, record, record_security_event
from core.auth.permissions import require
from core.db import db, own_transaction, short_read, utcnow
from core.errors import DomainError, ValidationFailed

SERVICE_NO_PASSWORD = "接口服务账户没有登录密码，只能使用安全管理员签发的接口令牌"

logger = logging.getLogger(__name__)

LOGIN_FAILED = "用户名或密码错误"
LOCKED = "登录失败次数过多，账户已临时锁定，请 {minutes} 分钟后再试"


class LoginRefused(DomainError):
    status = 401


def _normal(username: str) -> str:
    return (username or "").strip().lower()[:64]


def throttle_key(username: str, address: str | None) -> str:
    """The lockout counts an account's failures per address: an attacker who guesses an administrator's
    password from one address locks it there, not from the administrator's own desk (and not every
    administrator at once). The address is hashed: this table only counts."""
    from core.crypto import provider

    where = provider().blind_index(f"throttle-address:{address or '-'}")[:16]  # keyed: see core.ratelimit._key
    return f"{_normal(username)}|{where}"


def authenticate(username: str, password: str, *, actor: Actor) -> User:
    """Check credentials against the lockout table. Unknown user and wrong password look the same.
    Failures also count per address (core.ratelimit ``login.address``), so spraying many usernames from one
    address is throttled, not only many attempts on one account."""
    from core import ratelimit

    # Everything here reads and writes on short connections of its own, never the request's: on SQLite a
    # sign-in's transaction would hold the write lock the counters below need (BEGIN IMMEDIATE).
    with short_read() as s:
        policy = current_policy(s)
    key = _normal(username)
    lock_key = throttle_key(key, actor.ip)
    now = utcnow()
    try:
        ratelimit.check("login.address", actor.ip or "-")
    except ratelimit.RateLimited:
        record_security_event(actor, "login.throttled", result="locked", actor_name=key)
        raise
    with own_transaction() as s:
        throttle = s.get(LoginThrottle, lock_key)
        locked = throttle is not None and throttle.locked_until is not None and throttle.locked_until > now
    if locked:
        burn_hash(password)
        record_security_event(actor, "login.locked", result="locked", actor_name=key)
        raise LoginRefused(LOCKED.format(minutes=policy.lockout_minutes))
    # Read on a short connection of its own: on SQLite the request's transaction would hold the write
    # lock that the failure counter below needs.
    with own_transaction() as s:
        user = s.scalar(select(User).where(User.username == key))
    if user is None:
        burn_hash(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if user is not None and user.kind == AccountKind.service:
        # A service account never signs in interactively, whatever hash its row holds; it is refused like a
        # wrong password, so the answer tells a guesser nothing about the account.
        record_security_event(actor, "login.service_account", result="denied", actor_name=key)
        ok = False
    if not ok or not user.is_active:
        ratelimit.hit("login.address", actor.ip or "-", raise_over=False)
        now_locked = _register_failure(lock_key, policy)
        record_security_event(actor, "login.failed", result="failed", actor_name=key)
        if now_locked:
            record_security_event(actor, "login.lockout", result="locked", actor_name=key)
            raise LoginRefused(LOCKED.format(minutes=policy.lockout_minutes))
        raise LoginRefused(LOGIN_FAILED)
    with own_transaction() as s:
        row = s.get(LoginThrottle, lock_key)
        if row is not None:
            s.delete(row)
    return db.session.get(User, user.id)


def _register_failure(key: str, policy) -> bool:
    """Count one failure atomically (BEGIN IMMEDIATE / row lock); True when this failure locks."""
    for _attempt in range(2):
        try:
            with own_transaction() as s:
                row = s.scalar(select(LoginThrottle).where(LoginThrottle.username == key).with_for_update())
                now = utcnow()
                if row is None:
                    row = LoginThrottle(username=key, failures=0)
                    s.add(row)
                if row.locked_until is not None and row.locked_until <= now:
                    row.failures, row.locked_until = 0, None  # an expired lock starts a fresh count
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= policy.lockout_threshold:
                    row.locked_until = now + timedelta(minutes=policy.lockout_minutes)
                    return True
                return False
        except IntegrityError:  # two workers inserted the first failure at once; count again
            continue
    return False


def record_login(user: User, *, actor: Actor) -> None:
    record(actor, "login", user)


def password_expired(user: User) -> bool:
    if user.kind == AccountKind.service:
        return False  # no password to rotate: its tokens expire instead
    policy = current_policy()
    if user.must_change_password:
        return True
    return utcnow() - user.password_changed_at > timedelta(days=policy.rotation_days)


def check_password_policy(password: str, username: str, field: str = "new_password", *,
                          unit_names=()) -> None:
    policy = current_policy()
    errors = policy_errors(password, username=username, min_length=policy.min_length,
                           min_classes=policy.min_classes, unit_name=unit_names)
    if errors:
        raise ValidationFailed({field: errors})


def unit_names_of(user: User) -> list[str]:
    """The names of the units and departments a user is placed at (proposed places too: the password is chosen
    now, the post may be activated tomorrow)."""
    names = []
    for m in user.memberships:
        if m.unit is not None:
            names.append(m.unit.name)
        if m.department is not None:
            names += [m.department.name, m.department.unit.name]
    return names


def check_password_history(user: User, password: str, field: str = "new_password") -> None:
    """Refuse a password that repeats one of the user's last ``password_history`` passwords (the current one
    counts). argon2 hashes are salted, so each stored hash is verified in turn."""
    count = current_policy().password_history
    if user.id is None:
        return
    earlier = db.session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
                                 .order_by(PasswordHistory.id.desc()).limit(max(count - 1, 0)))
    if any(verify_password(h, password) for h in [user.password_hash, *earlier]):
        raise ValidationFailed({field: [f"新密码不能与最近 {count} 次使用过的密码相同"]})


def _replace_password_hash(user: User, password_hash: str) -> None:
    """Keep the outgoing hash in the history and drop what the policy no longer compares against."""
    if user.password_hash and user.password_hash.startswith("$argon2"):
        db.session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
        db.session.flush()
    keep = max(current_policy().password_history - 1, 0)
    ids = list(db.session.scalars(select(PasswordHistory.id).where(PasswordHistory.user_id == user.id)
                                  .order_by(PasswordHistory.id.desc())))
    if ids[keep:]:
        db.session.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(ids[keep:])))
    user.password_hash = password_hash
    user.password_changed_at = utcnow()


def change_password(user: User, *, current: str, new: str, actor: Actor) -> None:
    if actor.user_id != user.id:
        require(actor, "user.manage", user)
    if not verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": ["当前密码不正确"]})
    if current == new:
        raise ValidationFailed({"new_password": ["新密码不能与当前密码相同"]})
    check_password_policy(new, user.username, unit_names=unit_names_of(user))
    if user.kind == AccountKind.service:
        raise ValidationFailed({"current_password": [SERVICE_NO_PASSWORD]})
    check_password_history(user, new)
    _replace_password_hash(user, hash_password(new))
    user.must_change_password = False
    db.session.execute(end_user_sessions_stmt(user.id))  # every other device is signed out
    ended = _end_tokens(user, "password_changed")
    record(actor, "user.password_changed", user, changed=["password_hash", *ended])


def _end_tokens(user: User, reason: str) -> list[str]:
    """A changed password or a disabled account ends the user's API tokens; the names of what changed."""
    from core.accounts.tokens import end_user_tokens

    return ["api_tokens"] if end_user_tokens(user, reason=reason) else []


def create_user(*, username: str, display_name: str, password: str | None, title: str | None, actor: Actor,
                memberships: list[tuple[Role, object]] = (), must_change: bool = True,
                kind: AccountKind | str = AccountKind.person, activate: bool = False) -> User:
    """A new account with its memberships *proposed* (the security administrator activates them). Only the
    server console may ``activate`` them at once (``flask accounts create-admin``)."""
    from core.accounts.memberships import place_by_console, propose_membership

    key = _normal(username)
    kind = AccountKind(kind)
    if db.session.scalar(select(User.id).where(User.username == key)) is not None:
        raise ValidationFailed({"username": ["该用户名已被使用"]})
    if kind == AccountKind.service:
        if password:
            raise ValidationFailed({"password": ["接口服务账户不设登录密码，请留空"]})
        password_hash, must_change = NO_PASSWORD, False
    else:
        if not password:
            raise ValidationFailed({"password": ["请填写初始密码"]})
        check_password_policy(password, key, field="password", unit_names=_place_names(memberships))
        password_hash = hash_password(password)
    user = User(username=key, display_name=display_name, title=title, password_hash=password_hash,
                must_change_password=must_change, kind=kind)
    db.session.add(user)
    for role, place in memberships:
        if activate:
            place_by_console(user, role=role, place=place, actor=actor)
        else:
            propose_membership(user, role=role, place=place, actor=actor, _new_user=True)
    if not actor.is_system and not user.memberships:
        raise ValidationFailed({"role": ["请为用户指定至少一个岗位"]})
    db.session.flush()
    record(actor, "user.created", user, changed=["username", "display_name", "title", "password_hash"])
    return user


def _place_names(memberships) -> list[str]:
    names = []
    for _role, place in memberships:
        names.append(place.name)
        if getattr(place, "unit", None) is not None:  # a department: its unit's name too
            names.append(place.unit.name)
    return names


def update_user(user: User, *, actor: Actor, **fields) -> User:
    require(actor, "user.manage", user)
    for key in ("display_name", "title"):
        if key in fields:
            setattr(user, key, fields[key])
    changed = changed_fields(user)
    if changed:
        record(actor, "user.updated", user, changed=changed)
    return user


def set_user_active(user: User, active: bool, *, actor: Actor) -> None:
    """The system administrator disables or enables an account — not an administrator's alone (dual control)."""
    from core.accounts.dual_control import guard_admin_target

    require(actor, "user.manage", user)
    if actor.user_id == user.id and not active:
        raise ValidationFailed({"is_active": ["不能停用自己的账户"]})
    guard_admin_target(user, actor=actor, what="停用或启用管理员账户")
    apply_active(user, active, actor=actor)


def apply_active(user: User, active: bool, *, actor: Actor) -> None:
    """Carry out enabling/disabling once authorised (here, by dual control, or on the console)."""
    user.is_active = active
    ended: list[str] = []
    if not active:
        db.session.execute(end_user_sessions_stmt(user.id))
        ended = _end_tokens(user, "disabled")
    record(actor, "user.enabled" if active else "user.disabled", user, changed=["is_active", *ended])


def reset_password(user: User, *, new_password: str, actor: Actor) -> None:
    """The system administrator resets a user's password — not an administrator's alone (dual control)."""
    from core.accounts.dual_control import guard_admin_target

    require(actor, "user.manage", user)
    guard_admin_target(user, actor=actor, what="重置管理员的密码")
    if user.kind == AccountKind.service:
        raise ValidationFailed({"kind": [SERVICE_NO_PASSWORD]})
    check_password_policy(new_password, user.username, field="password", unit_names=unit_names_of(user))
    check_password_history(user, new_password, field="password")
    apply_password_hash(user, hash_password(new_password), actor=actor)


def apply_password_hash(user: User, password_hash: str, *, actor: Actor) -> None:
    """Carry out a reset once authorised: the user must choose a new password at the next sign-in; every
    session and API token of theirs ends."""
    _replace_password_hash(user, password_hash)
    user.must_change_password = True
    db.session.execute(end_user_sessions_stmt(user.id))
    ended = _end_tokens(user, "password_changed")
    record(actor, "user.password_reset", user, changed=["password_hash", "must_change_password", *ended])


def add_membership(user: User, *, role: Role, place, actor: Actor, _new_user: bool = False) -> Membership:
    """Propose a membership (``place`` is an OrgUnit, or a Department for department roles); the security
    administrator activates it (core.accounts.memberships)."""
    from core.accounts.memberships import propose_membership

    return propose_membership(user, role=role, place=place, actor=actor, _new_user=_new_user)


def end_membership(m: Membership, *, actor: Actor) -> None:
    from core.accounts.memberships import end_membership as _end_membership

    _end_membership(m, actor=actor)


def unlock(username: str, *, actor: Actor) -> None:
    require(actor, "user.unlock")
    db.session.execute(delete(LoginThrottle).where(
        LoginThrottle.username.startswith(_normal(username) + "|", autoescape=True)))  # from every address
    record(actor, "login.unlocked", object_type="users", object_id=_normal(username))


def update_policy(*, actor: Actor, **values) -> SecurityPolicy:
    require(actor, "security.policy")
    row = db.session.scalar(select(SecurityPolicy).order_by(SecurityPolicy.id).limit(1))
    if row is None:
        row = SecurityPolicy()
        db.session.add(row)
    for key in FIELDS:
        if key in values:
            setattr(row, key, values[key])
    db.session.flush()
    record(actor, "security.policy_updated", row, changed=[k for k in FIELDS if k in values])
    invalidate_cache()
    return row


def revoke_all_sessions_of(user: User, *, actor: Actor) -> None:
    require(actor, "user.unlock", user)
    db.session.execute(end_user_sessions_stmt(user.id))
    record(actor, "user.sessions_revoked", user)
