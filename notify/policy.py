"""Delivery policy: quiet hours, backoff, and the classification of platform results."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from enum import StrEnum

from core.timefmt import SHANGHAI


class Outcome(StrEnum):
    ok = "ok"
    token = "token"            # refresh once, retry once
    transient = "transient"    # back off and retry
    quota = "quota"            # defer without counting an attempt
    recipient = "recipient"    # binding stale, next channel
    payload = "payload"        # dead letter at once
    config = "config"          # pause the channel, alert admins


TOKEN_CODES = {40001, 40014, 42001}
QUOTA_CODES = {45009}
RECIPIENT_CODES = {40003, 43004, 43101, 81013}
PAYLOAD_CODES = {47001, 47003}
CONFIG_CODES = {40164, 60020}


def classify(errcode: int | None, *, http_status: int | None = None) -> Outcome:
    """(platform, errcode) → what to do. ``errcode`` None with an HTTP status or none: transport failure."""
    if errcode == 0:
        return Outcome.ok
    if errcode is None:
        return Outcome.transient  # timeout, connection error, HTTP 5xx, unreadable body
    if errcode in TOKEN_CODES:
        return Outcome.token
    if errcode in QUOTA_CODES:
        return Outcome.quota
    if errcode in RECIPIENT_CODES:
        return Outcome.recipient
    if errcode in PAYLOAD_CODES:
        return Outcome.payload
    if errcode in CONFIG_CODES:
        return Outcome.config
    if errcode == -1:
        return Outcome.transient
    # Unknown codes: do not hammer the platform, do not lose the message — back off like a transient error.
    return Outcome.transient


def backoff(attempts: int, *, base: float, cap: float, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter in [delay/2, delay]."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    jitter = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=delay * jitter)


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, quiet_start: str, quiet_end: str) -> datetime | None:
    """If ``now`` falls in the recipient's quiet hours (Asia/Shanghai), when they end (UTC); else None."""
    local = now.astimezone(SHANGHAI)
    start, end = _parse(quiet_start), _parse(quiet_end)
    t = local.time()
    if start == end:
        return None
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # spans midnight, e.g. 21:30–07:30
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, SHANGHAI).astimezone(now.tzinfo)


def digest_time(now: datetime, hour: int) -> datetime:
    """The next ``hour``:00 (Asia/Shanghai) at or after ``now``: when a user who asked for a daily digest gets
    the day's ordinary messages, all at once (the coalescer then makes one digest of them)."""
    local = now.astimezone(SHANGHAI)
    at = datetime.combine(local.date(), time(hour, 0), SHANGHAI)
    if at < local:
        at += timedelta(days=1)
    return at.astimezone(now.tzinfo)


def next_day_morning(now: datetime) -> datetime:
    """Official Account quota (45009) resets daily: try again just after midnight Beijing time."""
    local = now.astimezone(SHANGHAI)
    return datetime.combine(local.date() + timedelta(days=1), time(0, 5), SHANGHAI).astimezone(now.tzinfo)
