"""Dispatcher workers: claim due deliveries with a lease, send outside any transaction, record the results.

A round is two short transactions around the sends: (1) coalesce bursts, claim a batch (lease), and check
each claimed delivery (expired? quiet hours? rate limit?) — (2) record every result. Nothing is held while
we talk to the platform. At-least-once: a worker that dies mid-round leaves its leases to expire, and another
worker resends the same rendered requests, which the platforms de-duplicate (client_msg_id /
enable_duplicate_check / our SMS key). On PostgreSQL several workers claim with FOR UPDATE SKIP LOCKED; on
SQLite one worker runs.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from core.db import db, utcnow, write_intent
from notify import coalesce
from notify.channels import get_channel
from notify.errors import SendResult
from notify.models import (
    Binding,
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    Preference,
)
from notify.operations import apply_result, paused_channels
from notify.policy import Outcome, classify, quiet_until

logger = logging.getLogger(__name__)


@dataclass
class Job:
    delivery_id: int
    channel: Channel
    request: dict
    phone: str | None = None
    result: SendResult | None = None
    token_refreshed: bool = False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def claim_and_prepare(owner: str, *, limit: int | None = None) -> tuple[int, list[Job]]:
    """Transaction 1. Returns (number claimed, jobs to send now)."""
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
        if not ids:
            db.session.commit()
            return 0, []
        db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
            status=DeliveryStatus.sending, lease_until=now + timedelta(seconds=cfg["NOTIFY_LEASE_SECONDS"]),
            lease_owner=owner))
        jobs = _prepare(ids, now)
        db.session.commit()
    return len(ids), jobs


def _prepare(ids: list[int], now) -> list[Job]:
    from notify.bindings import external_id

    cfg = current_app.config
    rows = db.session.execute(select(Delivery, Notification).join(Notification)
                              .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
    user_ids = {n.user_id for _, n in rows}
    prefs = {p.user_id: p for p in db.session.scalars(select(Preference).where(Preference.user_id.in_(user_ids)))}
    recent = Counter(dict(db.session.execute(
        select(Notification.user_id, func.count(Delivery.id)).join(Notification)
        .where(Notification.user_id.in_(user_ids), Delivery.sent_at >= now - timedelta(seconds=60))
        .group_by(Notification.user_id)).all()))
    jobs = []
    for d, n in rows:
        if n.expires_at is not None and n.expires_at <= now:
            d.status, d.lease_until = DeliveryStatus.expired, None
            n.status = NotificationStatus.expired
            continue
        if not n.is_urgent:
            pref = prefs.get(n.user_id)
            quiet_end = quiet_until(now, pref.quiet_start, pref.quiet_end) if pref else \
                quiet_until(now, "21:30", "07:30")
            limited = recent[n.user_id] >= cfg["NOTIFY_RATE_PER_MINUTE"]
            wait_until = quiet_end or (now + timedelta(seconds=60) if limited else None)
            if wait_until is not None:  # waiting spends no attempt
                d.status, d.next_attempt_at, d.lease_until = DeliveryStatus.queued, wait_until, None
                continue
        recent[n.user_id] += 1
        phone = None
        if d.channel == Channel.sms and d.binding_id:
            phone = external_id(db.session.get(Binding, d.binding_id))
        jobs.append(Job(d.id, Channel(d.channel), dict(d.request), phone))
    return jobs


_channels: dict[tuple[int, str], object] = {}


def channel_for(name: Channel):
    """One channel object per app and channel in this process: its HTTP session keeps connections alive."""
    key = (id(current_app._get_current_object()), name.value)
    if key not in _channels:
        _channels[key] = get_channel(name, current_app.config)
    return _channels[key]


def send(job: Job) -> Job:
    """No transaction is open here. A token error gets one refresh and one retry."""
    channel = channel_for(job.channel)
    token_before = channel.current_token()
    job.result = channel.send(job.request, phone=job.phone) if job.channel == Channel.sms else channel.send(job.request)
    if classify(job.result.errcode) == Outcome.token:
        channel.refresh_token(token_before)
        job.token_refreshed = True
        job.result = channel.send(job.request)
    return job


def record_results(jobs: list[Job], owner: str) -> Counter:
    """Transaction 2."""
    from sqlalchemy.orm import joinedload

    outcomes: Counter = Counter()
    with write_intent():
        # One query loads the batch (identity map); apply_result's lookups then cost nothing.
        loaded = list(db.session.scalars(select(Delivery).options(joinedload(Delivery.notification))  # noqa: F841
                                         .where(Delivery.id.in_([j.delivery_id for j in jobs]))))
        for job in jobs:
            outcomes[apply_result(job.delivery_id, owner, job.result, token_refreshed=job.token_refreshed)] += 1
        db.session.commit()
    return outcomes


def round_(owner: str) -> int:
    claimed, jobs = claim_and_prepare(owner)
    if jobs:
        for job in jobs:
            send(job)
        record_results(jobs, owner)
    return claimed


def drain(owner: str | None = None, *, max_rounds: int = 1000) -> int:
    """Send everything that is due now (tests, `--once`). Returns the number of deliveries claimed."""
    owner = owner or worker_name()
    handled = 0
    for _ in range(max_rounds):
        claimed = round_(owner)
        if not claimed:
            break
        handled += claimed
    return handled


def run(*, once: bool = False, max_seconds: float | None = None) -> None:
    owner = worker_name()
    poll = current_app.config["NOTIFY_POLL_SECONDS"]
    started = time.monotonic()
    logger.info("dispatcher %s started", owner)
    while True:
        try:
            handled = drain(owner)
        except Exception:  # a database hiccup must not kill the worker; the leases protect the work
            logger.exception("dispatcher round failed")
            db.session.rollback()
            handled = 0
        if once or (max_seconds is not None and time.monotonic() - started > max_seconds):
            return
        if not handled:
            time.sleep(poll)
