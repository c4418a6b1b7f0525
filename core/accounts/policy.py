"""The security policy row, cached briefly per process (every request reads the session timeouts)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from core.accounts.models import SecurityPolicy

_CACHE_SECONDS = 15
_cache: tuple[float, PolicyValues] | None = None


@dataclass(frozen=True)
class PolicyValues:
    min_length: int = 8
    min_classes: int = 3
    rotation_days: int = 90
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    idle_minutes: int = 30
    absolute_hours: int = 12
    password_history: int = 5


FIELDS = tuple(PolicyValues.__dataclass_fields__)


def current_policy(session=None) -> PolicyValues:
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < _CACHE_SECONDS:
        return _cache[1]
    from core.db import db

    sess = session or db.session
    row = sess.scalar(select(SecurityPolicy).order_by(SecurityPolicy.id).limit(1))
    values = PolicyValues(**{f: getattr(row, f) for f in FIELDS}) if row else PolicyValues()
    _cache = (now, values)
    return values


def invalidate_cache() -> None:
    global _cache
    _cache = None
