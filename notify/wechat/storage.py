"""wechatpy SessionStorage backed by our database: one token per account, shared by every process."""

from __future__ import annotations

from datetime import timedelta

from wechatpy.session import SessionStorage

from core.db import own_transaction, short_read, utcnow
from notify.models import WeChatToken


class DatabaseTokenStorage(SessionStorage):
    def get(self, key, default=None):
        with short_read() as s:
            row = s.get(WeChatToken, key)
            if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
                return default
            value = row.value
        return int(value) if key.endswith("_expires_at") else value

    def set(self, key, value, ttl=None):
        expires = utcnow() + timedelta(seconds=int(ttl)) if ttl else None
        with own_transaction() as s:
            row = s.get(WeChatToken, key)
            if row is None:
                s.add(WeChatToken(key=key, value=str(value), expires_at=expires))
            else:
                row.value, row.expires_at = str(value), expires

    def delete(self, key):
        with own_transaction() as s:
            row = s.get(WeChatToken, key)
            if row is not None:
                s.delete(row)
