"""Delivery state changes: the result of a send, channel pauses and alerts, admin actions."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.db import db, utcnow
from notify.errors import SendResult
from notify.models import (
    Binding,
    Channel,
    ChannelState,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationStatus,
)
from notify.policy import Outcome, backoff, classify, next_day_morning

logger = logging.getLogger(__name__)


def paused_channels(now) -> set[str]:
    rows = db.session.scalars(select(ChannelState).where(ChannelState.paused_until > now))
    return {row.channel for row in rows}


def _tried_channels(notification: Notification) -> set[str]:
    return {d.channel.value for d in notification.deliveries if d.status in (DeliveryStatus.failed,
                                                                             DeliveryStatus.dead)}


def apply_result(delivery_id: int, owner: str, result: SendResult, *, token_refreshed: bool = False) -> str:
    """Record what the platform said. The caller commits."""
    from notify.bindings import mark_stale
    from notify.outbox import create_delivery

    cfg = current_app.config
    now = utcnow()
    d = db.session.get(Delivery, delivery_id)
    if d is None or d.lease_owner != owner or d.status != DeliveryStatus.sending:
        return "lost-lease"  # another worker took over after our lease expired; it owns the outcome now
    n = d.notification
    d.lease_until = None
    d.last_errcode = None if result.errcode is None else str(result.errcode)
    d.last_error = (result.message or "")[:500] or None
    outcome = Outcome.recipient if result.invalid_recipient else classify(result.errcode,
                                                                          http_status=result.http_status)
    if outcome == Outcome.token:  # still refused after one refresh and one retry
        outcome = Outcome.transient
    if outcome == Outcome.ok:
        d.status, d.sent_at, d.provider_msgid = DeliveryStatus.sent, now, result.msgid
        d.attempts += 1
        n.status = NotificationStatus.sent
        if d.channel == Channel.log or d.channel == Channel.sms:
            d.status = DeliveryStatus.delivered
    elif outcome == Outcome.transient:
        d.attempts += 1
        if d.attempts >= cfg["NOTIFY_MAX_ATTEMPTS"]:
            d.status = DeliveryStatus.dead
            n.status = NotificationStatus.failed
            logger.warning("delivery %s dead after %s attempts: %s", d.id, d.attempts, d.last_errcode)
        else:
            d.status = DeliveryStatus.queued
            d.next_attempt_at = now + backoff(d.attempts, base=cfg["NOTIFY_BACKOFF_BASE_SECONDS"],
                                              cap=cfg["NOTIFY_BACKOFF_MAX_SECONDS"], rng=random)
    elif outcome == Outcome.quota:  # not the message's fault: no attempt spent
        d.status = DeliveryStatus.queued
        d.next_attempt_at = next_day_morning(now) if d.channel == Channel.mp_template else now + timedelta(hours=1)
    elif outcome == Outcome.recipient:
        d.status = DeliveryStatus.failed
        d.attempts += 1
        if d.binding_id:
            mark_stale(db.session.get(Binding, d.binding_id), f"errcode {result.errcode or 'invaliduser'}")
        if create_delivery(n, exclude=_tried_channels(n) | {d.channel.value}, now=now) is None:
            n.status = NotificationStatus.failed
    elif outcome == Outcome.payload:
        d.status = DeliveryStatus.dead
        d.attempts += 1
        n.status = NotificationStatus.failed
    elif outcome == Outcome.config:
        until = now + timedelta(seconds=cfg["NOTIFY_CHANNEL_PAUSE_SECONDS"])
        pause_channel(d.channel, until=until, reason=f"errcode {result.errcode}: {result.message}"[:200])
        d.status, d.next_attempt_at = DeliveryStatus.queued, until
    return outcome.value


def pause_channel(channel: Channel, *, until, reason: str) -> None:
    """Pause a misconfigured channel and tell the admins on a channel that still works."""
    state = db.session.get(ChannelState, channel.value)
    if state is None:
        state = ChannelState(channel=channel.value)
        db.session.add(state)
    already = state.paused_until is not None and state.paused_until > utcnow()
    state.paused_until, state.reason = until, reason
    db.session.flush()
    if not already:
        alert_admins(channel, until, reason)


def alert_admins(channel: Channel, until, reason: str) -> None:
    from core.accounts.models import Membership, Role, User
    from notify.models import CHANNEL_LABELS
    from notify.outbox import enqueue

    admins = db.session.scalars(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.role == Role.system_admin, Membership.is_active.is_(True), User.is_active.is_(True)).distinct())
    for admin in admins:
        enqueue("notify.channel_paused", admin,
                {"title": f"{CHANNEL_LABELS[channel]}通道已暂停", "body": f"原因：{reason}。请检查配置。",
                 "url": "/admin/notify/channels", "status": "已暂停"},
                key=f"channel-paused:{channel.value}:{until:%Y%m%d%H%M}:{admin.id}", priority="urgent")
    logger.error("channel %s paused until %s: %s", channel.value, until, reason)


def mark_receipt(msgid: str, *, success: bool, reason: str = "") -> Delivery | None:
    """A template receipt (TEMPLATESENDJOBFINISH): delivered, or failed → fall back to the next channel."""
    from notify.outbox import create_delivery

    d = db.session.scalar(select(Delivery).where(Delivery.provider_msgid == str(msgid),
                                                 Delivery.channel == Channel.mp_template))
    if d is None:
        return None
    if success:
        d.status = DeliveryStatus.delivered
        d.notification.status = NotificationStatus.delivered
    elif d.status != DeliveryStatus.failed:
        d.status, d.last_error = DeliveryStatus.failed, reason[:500] or "template receipt: failed"
        n = d.notification
        if create_delivery(n, exclude=_tried_channels(n) | {d.channel.value}) is None:
            n.status = NotificationStatus.failed
    return d


def requeue(delivery: Delivery, *, actor: Actor) -> Delivery:
    """An admin sends a dead letter again: a fresh delivery with the same rendered request."""
    require(actor, "notify.manage")
    from core.db import utcnow as now_

    if delivery.status not in (DeliveryStatus.dead, DeliveryStatus.failed, DeliveryStatus.expired):
        from core.errors import InvalidTransition

        raise InvalidTransition("只有失败、死信或过期的投递可以重新发送")
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.queued, 0, now_()
    delivery.lease_owner = None
    delivery.notification.status = NotificationStatus.pending
    record(actor, "notify.requeued", delivery, object_type="deliveries", changed=["status", "attempts"])
    return delivery


def resume_channel(channel: str, *, actor: Actor) -> None:
    require(actor, "notify.manage")
    state = db.session.get(ChannelState, channel)
    if state is not None:
        state.paused_until = None
    record(actor, "notify.channel_resumed", object_type="notify_channel_states", object_id=channel,
           changed=["paused_until"])


def send_test(user, *, actor: Actor):
    from notify.outbox import enqueue

    require(actor, "notify.manage", user)
    now = utcnow()
    notification = enqueue("notify.test", user, {"title": "测试消息", "body": f"这是一条测试消息，由 {actor} 发送。",
                                                "url": "/", "status": "测试"},
                           key=f"test:{user.id}:{now.timestamp()}", priority="urgent")
    record(actor, "notify.test_sent", notification, object_type="notifications")
    return notification


def update_preferences(user, *, actor: Actor, first: str, second: str | None, third: str | None,
                       quiet_start: str, quiet_end: str, muted: list[str], digest_hour: int | None = None):
    """A user sets their own channel order, quiet hours, muted events and, if they like, a daily digest hour
    (ordinary messages then wait for that hour and arrive together; urgent ones never wait)."""
    from notify.models import Preference

    if actor.user_id != user.id:
        require(actor, "notify.manage", user)
    channels = []
    for name in (first, second, third):
        if name and name not in channels:
            channels.append(name)
    pref = db.session.get(Preference, user.id)
    if pref is None:
        pref = Preference(user_id=user.id)
        db.session.add(pref)
    pref.channels, pref.quiet_start, pref.quiet_end, pref.muted_events = channels, quiet_start, quiet_end, muted
    pref.digest_hour = digest_hour
    record(actor, "notify.preferences_updated", user, object_type="users",
           changed=["channels", "quiet_start", "quiet_end", "muted_events", "digest_hour"])
    return pref
