"""wechatpy SessionStorage backed by our database: one token per account, shared by every process."""

from __future__ import annotations

from datetime import timedelta

from wechatpy.session import SessionStorage

from core.db import own_transaction, short_read, utcnow
from notify.models import WeChatToken


class DatabaseTokenStorage(SessionStorage):
    """Reads are cached in the process for a few seconds: a token another process replaced shows up as a
    token error, and the refresh path then re-reads the row before fetching (clients.py)."""

    CACHE_SECONDS = 30

    def __init__(self):
        self._cache: dict[str, tuple[float, object]] = {}

    def get(self, key, default=None):
        import time

        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.CACHE_SECONDS:
            return hit[1] if hit[1] is not None else default
        value = self._read(key)
        self._cache[key] = (time.monotonic(), value)
        return value if value is not None else default

    def forget(self, key=None) -> None:
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)

    def _read(self, key, default=None):
        with short_read() as s:
            row = s.get(WeChatToken, key)
            if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
                return default
            value = row.value
        return int(value) if key.endswith("_expires_at") else value

    def set(self, key, value, ttl=None):
        self.forget(key)
        expires = utcnow() + timedelta(seconds=int(ttl)) if ttl else None
        with own_transaction() as s:
            row = s.get(WeChatToken, key)
            if row is None:
                s.add(WeChatToken(key=key, value=str(value), expires_at=expires))
            else:
                row.value, row.expires_at = str(value), expires

    def delete(self, key):
        self.forget(key)
        with own_transaction() as s:
            row = s.get(WeChatToken, key)
            if row is not None:
                s.delete(row)
