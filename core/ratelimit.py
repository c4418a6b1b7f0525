"""One rate-limit service for every abuse limit (sign-in, second factor, API requests, intake, and later the
public booking and SMS endpoints): fixed windows counted per key, shared by every process.

A limit is a name with a number of hits per window; a key is what is counted (an address, an account, a
token). The counters live in the database by default (``rate_counters``, one row per key and window,
incremented by one upsert in its own short transaction, so a rolled-back request still counts and every
worker sees the same figure) and in Redis when ``RATE_LIMIT_REDIS_URL`` is set; nothing requires Redis.
Exceeding a limit raises ``RateLimited``: a 429 with a Chinese message and ``Retry-After`` (core.error_pages).
Old windows are removed by the housekeeping job.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import BigInteger, Integer, String, delete
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, increment_counter, own_transaction, short_read
from core.errors import DomainError

logger = logging.getLogger(__name__)


class RateCounter(Base):
    """Hits of one key in one window (``window`` = the window's start, in seconds since the epoch)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires: Mapped[int] = mapped_column(BigInteger, index=True)


@dataclass(frozen=True)
class Limit:
    name: str
    hits: int
    seconds: int
    #: what the person is told (after "操作过于频繁：")
    what: str


#: The defaults; RATE_LIMITS in the configuration overrides any of them ({name: [hits, seconds]}).
#: Sign-in counts failures per address, so a township behind one NAT address is not throttled by its
#: own clerks signing in each morning, while a spray of usernames from one address is.
DEFAULT_LIMITS = {
    "login.address": Limit("login.address", 15, 900, "该地址登录失败次数过多"),
    "factor.account": Limit("factor.account", 5, 300, "动态口令错误次数过多"),
    "api.account": Limit("api.account", 1200, 60, "接口请求过于频繁"),
    "intake.account": Limit("intake.account", 600, 60, "登记过于频繁"),
    #: rows of unmasked export per person and day (center.cases.listing.reveal_export); a day is a UTC day
    "export.unmasked_rows": Limit("export.unmasked_rows", 1000, 86400, "今日导出完整个人信息的行数已达上限"),
}


class RateLimited(DomainError):
    status = 429

    def __init__(self, limit: Limit, retry_after: int):
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(f"操作过于频繁：{limit.what}，请 {minutes} 分钟后再试")
        self.limit = limit
        self.retry_after = max(1, retry_after)


def limit(name: str) -> Limit:
    base = DEFAULT_LIMITS[name]
    override = (current_app.config.get("RATE_LIMITS") or {}).get(name)
    if override:
        return Limit(name, int(override[0]), int(override[1]), base.what)
    return base


def _key(name: str, subject: str) -> str:
    # Keyed (the blind index's HMAC-SM3): an address or username is not stored in a table that only counts,
    # and an unkeyed hash of an IPv4 address is undone by hashing all 2^32 of them.
    from core.crypto import provider

    return name + ":" + provider().blind_index(f"ratelimit:{name}:{subject}")[:64]


def _window(rule: Limit, now: float) -> int:
    return int(now) - int(now) % rule.seconds


def hit(name: str, subject: str, *, now: float | None = None, raise_over: bool = True, session=None,
        amount: int = 1) -> int:
    """Count one hit of ``subject`` against limit ``name``; raise RateLimited once it is over (unless
    ``raise_over`` is false: a failure counted after the fact, refused at the next ``check``). The count.

    ``session``: count in the caller's transaction instead of a short one of its own — for an operation
    called inside a write request, whose transaction already holds SQLite's one write lock (a second
    connection would wait for it until the busy timeout). The hit then stands or falls with the request."""
    rule = limit(name)
    now = time.time() if now is None else now
    count = _backend().incr(_key(name, subject), _window(rule, now), rule.seconds, session=session, by=amount)
    if count > rule.hits and raise_over:
        raise RateLimited(rule, _window(rule, now) + rule.seconds - int(now))
    return count


def check(name: str, subject: str, *, now: float | None = None) -> None:
    """Raise RateLimited if ``subject`` is already over limit ``name`` (counts nothing)."""
    rule = limit(name)
    now = time.time() if now is None else now
    if _backend().get(_key(name, subject), _window(rule, now)) >= rule.hits:
        raise RateLimited(rule, _window(rule, now) + rule.seconds - int(now))


def reset(name: str, subject: str) -> None:
    """Forget ``subject``'s hits (an administrator's unlock; a successful second factor)."""
    _backend().clear(_key(name, subject))


class _Database:
    def incr(self, key: str, window: int, seconds: int, session=None, by: int = 1) -> int:
        if session is not None:
            return increment_counter(session, RateCounter.__table__, {"key": key, "window": window},
                                     "hits", extra={"expires": window + seconds}, by=by)
        with own_transaction() as s:
            return increment_counter(s, RateCounter.__table__, {"key": key, "window": window},
                                     "hits", extra={"expires": window + seconds}, by=by)

    def get(self, key: str, window: int) -> int:
        with short_read() as s:  # a read: never waits for a writer (SQLite WAL), even inside a write request
            row = s.get(RateCounter, (key, window))
            return row.hits if row is not None else 0

    def clear(self, key: str) -> None:
        with own_transaction() as s:
            s.execute(delete(RateCounter).where(RateCounter.key == key))


class _Redis:
    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2)

    def incr(self, key: str, window: int, seconds: int, session=None, by: int = 1) -> int:
        name = f"mdt:rl:{key}:{window}"
        pipe = self.client.pipeline()
        pipe.incrby(name, by)
        pipe.expire(name, seconds + 5)
        return int(pipe.execute()[0])

    def get(self, key: str, window: int) -> int:
        return int(self.client.get(f"mdt:rl:{key}:{window}") or 0)

    def clear(self, key: str) -> None:
        for name in self.client.scan_iter(f"mdt:rl:{key}:*"):
            self.client.delete(name)


_redis: dict[str, _Redis] = {}


def _backend():
    url = current_app.config.get("RATE_LIMIT_REDIS_URL")
    if not url:
        return _Database()
    if url not in _redis:
        _redis[url] = _Redis(url)
    return _redis[url]


def remove_expired(session, *, now: float | None = None) -> int:
    """Housekeeping: windows that have ended (Redis expires its own)."""
    now = time.time() if now is None else now
    return session.execute(delete(RateCounter).where(RateCounter.expires < int(now))).rowcount or 0
