"""The one function features call: ``enqueue``. It writes in the caller's transaction, so a rolled-back
business transaction leaves no notification, and a repeated key is a no-op."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import db, utcnow
from notify.models import Channel, Delivery, DeliveryStatus, Notification, NotificationStatus

logger = logging.getLogger(__name__)


def enqueue(event: str, recipient_user, payload: dict, *, key: str, priority: str = "normal",
            not_before: datetime | None = None, expires_at: datetime | None = None) -> Notification:
    """Queue ``payload`` for one user. ``payload``: title, body, url (our path), optional number/status."""
    if priority not in ("normal", "urgent"):
        raise ValueError("priority must be normal or urgent")
    existing = db.session.scalar(select(Notification).where(Notification.idempotency_key == key))
    if existing is not None:
        return existing
    from core import hooks

    for message_link in hooks.message_links:  # e.g. a signed read-only card instead of the full page
        path = message_link(recipient_user, payload)
        if path:
            payload = {**payload, "url": path, "full_url": payload.get("url")}
            break
    notification = Notification(event=event, user_id=recipient_user.id, payload=dict(payload),
                                idempotency_key=key, priority=priority, not_before=not_before,
                                expires_at=expires_at)
    try:
        with db.session.begin_nested():  # a concurrent enqueue of the same key: keep the caller's transaction
            db.session.add(notification)
            db.session.flush()
    except IntegrityError:
        return db.session.scalar(select(Notification).where(Notification.idempotency_key == key))
    from notify.bindings import preference_of

    pref = preference_of(recipient_user.id)
    if event in (pref.muted_events or []) and priority != "urgent":
        notification.status = NotificationStatus.muted
        return notification
    create_delivery(notification, exclude=set())
    return notification


def create_delivery(notification: Notification, *, exclude: set[str], now: datetime | None = None
                    ) -> Delivery | None:
    """The next delivery of a notification on the first usable channel not yet tried. None: no channel."""
    from notify.bindings import external_id, usable_channels
    from notify.operations import paused_channels
    from notify.render import render

    now = now or utcnow()
    candidates = usable_channels(notification.user_id, exclude=exclude,
                                 log_fallback=current_app.config["NOTIFY_LOG_FALLBACK"])
    paused = paused_channels(now)
    # A paused channel is skipped while another works; if all are paused the message waits on the first.
    active = [c for c in candidates if c[0].value not in paused] or candidates
    if not active:
        notification.status = NotificationStatus.failed
        logger.warning("notification %s: no usable channel for user %s", notification.id, notification.user_id)
        return None
    channel, binding = active[0]
    delivery = Delivery(notification=notification, channel=channel, binding_id=binding.id if binding else None,
                        next_attempt_at=first_attempt_at(notification, now))
    db.session.add(delivery)
    db.session.flush()
    delivery.request = render(channel, delivery_id=delivery.id, payload=notification.payload,
                              external_id=external_id(binding) if binding else None,
                              config=current_app.config, now=now)
    notification.status = NotificationStatus.pending
    return delivery


def first_attempt_at(notification: Notification, now: datetime) -> datetime:
    from notify.bindings import preference_of
    from notify.policy import digest_time, quiet_until

    at = max(now, notification.not_before or now)
    if not notification.is_urgent:
        pref = preference_of(notification.user_id)
        if pref.digest_hour is not None and not notification.is_digest and notification.event != "notify.digest":
            at = digest_time(at, pref.digest_hour)  # held for the user's daily digest
        quiet_end = quiet_until(at, pref.quiet_start, pref.quiet_end)
        if quiet_end is not None:
            at = quiet_end
    return at


__all__ = ["enqueue", "create_delivery", "Channel", "DeliveryStatus"]
