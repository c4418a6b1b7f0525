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
    only that: a code lets its holder bind a phone to the user once they prove who they are, and a cadre has
    no business with someone who also holds any other post (a township clerk with a grid post on the side).
    Never for a service account (it has no phone to bind); for an administrator's account only with an
    approved dual-control request of the actor's (core.accounts.dual_control) — an administrator never binds
    a device to another administrator alone (their own phone they may: the proof is their own password)."""
    from core.accounts.dual_control import has_binding_approval
    from core.accounts.memberships import is_administrator
    from core.accounts.models import Role
    from core.auth.permissions import can

    if user.is_service:
        return False
    if is_administrator(user) and not actor.is_system:
        # Their own phone: the code still needs their own password on it. Anyone else's: dual control.
        return actor.user_id == user.id or has_binding_approval(actor, user)
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
    from core.accounts.memberships import is_administrator

    if is_administrator(user) and not actor.is_system and actor.user_id != user.id:
        from core.accounts.dual_control import take_binding_approval

        take_binding_approval(actor, user)  # one approval, one code
    now = utcnow()
    db.session.execute(update(BindingCode).where(BindingCode.user_id == user.id, BindingCode.used_at.is_(None))
                       .values(used_at=now, used_platform="void"))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    db.session.add(BindingCode(user_id=user.id, code_hash=_code_hash(code), issued_by_user_id=actor.user_id,
                               issued_at=now, expires_at=now + timedelta(hours=ttl_hours)))
    db.session.flush()
    record(actor, "notify.binding_code_issued", user, changed=["binding_code"])
    return code


def live_code(code: str, *, session=None):
    """The unspent, unexpired binding code row for ``code`` that has not died of wrong proofs, or None."""
    from core.db import utcnow
    from notify.binding_proof import MAX_PROOF_FAILURES
    from notify.models import BindingCode

    sess = session or db.session
    row = sess.scalar(select(BindingCode).where(BindingCode.code_hash == _code_hash(code)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or row.proof_failures >= MAX_PROOF_FAILURES:
        return None
    return row


def redeem_binding_code(code: str, platform: Platform | str, external_id: str, *, actor: Actor, proven_user_id: int):
    """Bind the identity to the code's user and spend the code — only once the person on the phone proved they
    are that user (``proven_user_id``, notify.binding_proof); None for an unknown, spent, expired or dead code,
    or a proof for someone else. One conditional UPDATE spends it, so two phones racing cannot both bind. The
    user hears of the new binding on the channels they already had, before it joins them."""
    from sqlalchemy import update

    from core.accounts.models import User
    from core.db import utcnow
    from notify.binding_proof import MAX_PROOF_FAILURES, announce_new_binding
    from notify.models import BindingCode

    now = utcnow()
    row = db.session.scalar(select(BindingCode).where(BindingCode.code_hash == _code_hash(code)))
    if row is None or row.user_id != proven_user_id:
        return None
    spent = db.session.execute(update(BindingCode).where(
        BindingCode.id == row.id, BindingCode.used_at.is_(None), BindingCode.expires_at > now,
        BindingCode.proof_failures < MAX_PROOF_FAILURES)
        .values(used_at=now, used_platform=str(Platform(platform).value)))
    if spent.rowcount != 1:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active or user.is_service:
        return None
    owner = Actor.for_user(user, ip=actor.ip, request_id=actor.request_id, channel=actor.channel)
    announce_new_binding(user, Platform(platform), code_id=row.id)
    # The owner of the phone binds their own identity: the audit row names them, from the visitor's request.
    bind(user, platform, external_id, actor=owner)
    record(owner, "wechat.bind", user, changed=["notify_bindings"])
    return user
