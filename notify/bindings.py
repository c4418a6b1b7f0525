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
