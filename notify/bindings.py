"""Recipient bindings (WeCom userid, Official Account OpenID, phone) and preferences."""

from __future__ import annotations

from sqlalchemy import select

from core.actor import Actor
from core.audit.operations import record
from core.crypto import provider
from core.db import db
from notify.models import CHANNEL_PLATFORM, Binding, BindingState, Channel, Platform, Preference


def _index(platform: Platform, external_id: str) -> str:
    return provider().blind_index(external_id) if platform == Platform.phone else external_id


def bind(user, platform: Platform | str, external_id: str, *, actor: Actor) -> Binding:
    """Bind (or re-verify) an identity to a user. An identity belongs to one user: rebinding moves it."""
    platform = Platform(platform)
    index = _index(platform, external_id)
    binding = db.session.scalar(select(Binding).where(Binding.platform == platform, Binding.external_index == index))
    stored = provider().encrypt(external_id) if platform == Platform.phone else external_id
    if binding is None:
        binding = Binding(user_id=user.id, platform=platform, external_id=stored, external_index=index)
        db.session.add(binding)
    else:
        binding.user_id = user.id
    binding.state = BindingState.verified
    binding.stale_reason = None
    db.session.flush()
    record(actor, "notify.bound", binding, object_type="notify_bindings", changed=["platform", "external_id"])
    return binding


def find_by_identity(platform: Platform | str, external_id: str) -> Binding | None:
    platform = Platform(platform)
    return db.session.scalar(select(Binding).where(Binding.platform == platform,
                                                   Binding.external_index == _index(platform, external_id)))


def mark_stale(binding: Binding, reason: str) -> None:
    binding.state = BindingState.stale
    binding.stale_reason = reason[:100]


def external_id(binding: Binding) -> str:
    return provider().decrypt(binding.external_id) if binding.platform == Platform.phone else binding.external_id


def preference_of(user_id: int) -> Preference:
    pref = db.session.get(Preference, user_id)
    return pref if pref is not None else Preference(user_id=user_id, channels=["wecom", "mp_template", "sms"],
                                                    quiet_start="21:30", quiet_end="07:30", muted_events=[])


def usable_channels(user_id: int, *, exclude: set[str] = frozenset(), log_fallback: bool = False
                    ) -> list[tuple[Channel, Binding | None]]:
    """The recipient's channels in preference order that have a verified binding (and are not excluded)."""
    pref = preference_of(user_id)
    bindings = {b.platform: b for b in db.session.scalars(
        select(Binding).where(Binding.user_id == user_id, Binding.state == BindingState.verified))}
    out: list[tuple[Channel, Binding | None]] = []
    for name in pref.channels or []:
        try:
            channel = Channel(name)
        except ValueError:
            continue
        if channel.value in exclude or channel == Channel.log:
            continue
        binding = bindings.get(CHANNEL_PLATFORM[channel])
        if binding is not None:
            out.append((channel, binding))
    if log_fallback and Channel.log.value not in exclude:
        out.append((Channel.log, None))
    return out


# --- one-time binding codes ---------------------------------------------------------------------------------

#: No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch in CODE_ALPHABET)[:CODE_LENGTH + 2]


def _code_hash(code: str) -> str:
    return provider().blind_index("binding-code:" + normalise_code(code))


def may_issue_code(actor: Actor, user) -> bool:
    """An admin over the user, or a village cadre/head over a grid worker of their village — a user who is
    only that: a binding code signs its redeemer in as the user, so a cadre must never get one for someone
    who also holds any other post (a township clerk with a grid membership on the side, say)."""
    from core.accounts.models import Role
    from core.auth.permissions import can

    if can(actor, "user.manage", user):
        return True
    posts = [m for m in user.memberships if m.is_active]
    return bool(posts) and all(m.role == Role.grid_worker and m.unit is not None and can(actor, "grid.bind", m.unit)
                               for m in posts)


def issue_binding_code(user, *, actor: Actor, ttl_hours: int) -> str:
    """A fresh code for ``user`` (earlier unused codes of the user are spent: only the newest works)."""
    import secrets
    from datetime import timedelta

    from sqlalchemy import update

    from core.db import utcnow
    from core.errors import PermissionDenied, ValidationFailed
    from notify.models import BindingCode

    if not may_issue_code(actor, user):
        raise PermissionDenied(action="grid.bind")
    if not user.is_active:
        raise ValidationFailed({"user_id": ["该账号已停用，不能绑定微信"]})
    now = utcnow()
    db.session.execute(update(BindingCode).where(BindingCode.user_id == user.id, BindingCode.used_at.is_(None))
                       .values(used_at=now, used_platform="void"))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    db.session.add(BindingCode(user_id=user.id, code_hash=_code_hash(code), issued_by_user_id=actor.user_id,
                               issued_at=now, expires_at=now + timedelta(hours=ttl_hours)))
    db.session.flush()
    record(actor, "notify.binding_code_issued", user, changed=["binding_code"])
    return code


def redeem_binding_code(code: str, platform: Platform | str, external_id: str, *, actor: Actor):
    """Bind the identity to the code's user and spend the code; None for an unknown, spent or expired code.
    One conditional UPDATE spends it, so two phones racing with the same code cannot both bind."""
    from sqlalchemy import update

    from core.accounts.models import User
    from core.db import utcnow
    from notify.models import BindingCode

    now = utcnow()
    row = db.session.scalar(select(BindingCode).where(BindingCode.code_hash == _code_hash(code)))
    if row is None:
        return None
    spent = db.session.execute(update(BindingCode).where(
        BindingCode.id == row.id, BindingCode.used_at.is_(None), BindingCode.expires_at > now)
        .values(used_at=now, used_platform=str(Platform(platform).value)))
    if spent.rowcount != 1:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    # The owner of the phone binds their own identity: the audit row names them, from the visitor's request.
    bind(user, platform, external_id, actor=Actor.for_user(user, ip=actor.ip, request_id=actor.request_id,
                                                           channel=actor.channel))
    return user
