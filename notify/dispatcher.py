"""Dispatcher workers: claim due deliveries with a lease, send outside any transaction, record the result.

At-least-once: a worker that dies mid-send leaves its lease to expire and another worker resends the same
rendered request, which the platform de-duplicates (client_msg_id / enable_duplicate_check / our SMS key).
On PostgreSQL several workers claim with FOR UPDATE SKIP LOCKED; on SQLite one worker runs.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from core.db import db, utcnow, write_intent
from notify import coalesce
from notify.channels import get_channel
from notify.models import Binding, Channel, Delivery, DeliveryStatus, Notification, NotificationStatus
from notify.operations import apply_result, paused_channels

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def claim(owner: str, *, limit: int | None = None) -> list[int]:
    cfg = current_app.config
    now = utcnow()
    limit = limit or cfg["NOTIFY_BATCH"]
    with write_intent():
        coalesce.coalesce_bursts(now)
        paused = paused_channels(now)
        due = or_(and_(Delivery.status == DeliveryStatus.queued, Delivery.next_attempt_at <= now),
                  and_(Delivery.status == DeliveryStatus.sending, Delivery.lease_until < now))
        stmt = select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
        if paused:
            stmt = stmt.where(Delivery.channel.not_in(sorted(paused)))
        if db.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(db.session.scalars(stmt))
        if ids:
            db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
                status=DeliveryStatus.sending, lease_until=now + timedelta(seconds=cfg["NOTIFY_LEASE_SECONDS"]),
                lease_owner=owner))
        db.session.commit()
    return ids


def _prepare(delivery_id: int, owner: str):
    """Checks before sending, in a short transaction. Returns what to send, or None if handled here."""
    from notify.bindings import external_id, preference_of
    from notify.policy import quiet_until

    cfg = current_app.config
    now = utcnow()
    with write_intent():
        d = db.session.get(Delivery, delivery_id)
        if d is None or d.status != DeliveryStatus.sending or d.lease_owner != owner:
            db.session.rollback()
            return None
        n = d.notification
        if n.expires_at is not None and n.expires_at <= now:
            d.status, d.lease_until = DeliveryStatus.expired, None
            n.status = NotificationStatus.expired
            db.session.commit()
            return None
        if not n.is_urgent:
            pref = preference_of(n.user_id)
            quiet_end = quiet_until(now, pref.quiet_start, pref.quiet_end)
            recent = db.session.scalar(
                select(db.func.count(Delivery.id)).join(Notification)
                .where(Notification.user_id == n.user_id, Delivery.sent_at >= now - timedelta(seconds=60)))
            wait_until = quiet_end or (now + timedelta(seconds=60) if recent >= cfg["NOTIFY_RATE_PER_MINUTE"] else None)
            if wait_until is not None:  # no attempt is spent on waiting
                d.status, d.next_attempt_at, d.lease_until = DeliveryStatus.queued, wait_until, None
                db.session.commit()
                return None
        phone = None
        if d.channel == Channel.sms and d.binding_id:
            phone = external_id(db.session.get(Binding, d.binding_id))
        job = (d.id, Channel(d.channel), dict(d.request), phone)
        db.session.commit()  # nothing is held while we talk to the platform
    return job


def send_one(delivery_id: int, owner: str) -> str | None:
    job = _prepare(delivery_id, owner)
    if job is None:
        return None
    _id, channel_name, request, phone = job
    channel = get_channel(channel_name, current_app.config)
    token_before = channel.current_token()
    result = channel.send(request, phone=phone) if channel_name == Channel.sms else channel.send(request)
    token_refreshed = False
    from notify.policy import Outcome, classify

    if classify(result.errcode) == Outcome.token:
        channel.refresh_token(token_before)  # once
        token_refreshed = True
        result = channel.send(request)  # and retry once
    with write_intent():
        outcome = apply_result(delivery_id, owner, result, token_refreshed=token_refreshed)
        db.session.commit()
    return outcome


def drain(owner: str | None = None, *, max_rounds: int = 1000) -> int:
    """Send everything that is due now (tests, `--once`). Returns the number of deliveries handled."""
    owner = owner or worker_name()
    handled = 0
    for _ in range(max_rounds):
        ids = claim(owner)
        if not ids:
            break
        for delivery_id in ids:
            send_one(delivery_id, owner)
            handled += 1
    return handled


def run(*, once: bool = False, max_seconds: float | None = None) -> None:
    owner = worker_name()
    poll = current_app.config["NOTIFY_POLL_SECONDS"]
    started = time.monotonic()
    logger.info("dispatcher %s started", owner)
    while True:
        try:
            handled = drain(owner)
        except Exception:  # a database hiccup must not kill the worker; the lease protects the work
            logger.exception("dispatcher round failed")
            db.session.rollback()
            handled = 0
        if once or (max_seconds is not None and time.monotonic() - started > max_seconds):
            return
        if not handled:
            time.sleep(poll)
