"""wechatpy clients with ``auto_retry=False`` (its retry is unbounded) and our own token fetch: bounded
timeout, configured base URL, and a refresh lock so concurrent processes fetch one token, not one each.

Official Account tokens come from ``/cgi-bin/stable_token`` (a refresh does not invalidate the token other
processes hold); WeCom tokens from ``gettoken``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import wechatpy
import wechatpy.work
from sqlalchemy import text
from wechatpy.exceptions import WeChatClientException

from core.db import own_transaction, utcnow
from notify.models import WeChatToken
from notify.wechat.storage import DatabaseTokenStorage
from notify.wechat.transport import build_session

logger = logging.getLogger(__name__)


def _lock(session, key: str) -> None:
    """Serialise refreshes of one token: PostgreSQL advisory lock; SQLite's BEGIN IMMEDIATE already is."""
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})


class _TokenMixin:
    token_fetches = 0  # per-instance counter, for logs and tests

    def _refresh(self, fetch, *, stale: str | None):
        key = self.access_token_key
        self.session.forget()
        with own_transaction() as s:
            _lock(s, key)
            row = s.get(WeChatToken, key)
            now = utcnow()
            if row is not None and row.value != stale and (row.expires_at is None or row.expires_at > now):
                return row.value  # another process refreshed while we waited
            result = fetch()
            expires_in = int(result.get("expires_in", 7200))
            expires_at = now + timedelta(seconds=expires_in - 120)  # renew well before the platform does
            if row is None:
                s.add(WeChatToken(key=key, value=result["access_token"], expires_at=expires_at))
            else:
                row.value, row.expires_at = result["access_token"], expires_at
            exp_row = s.get(WeChatToken, self.access_token_expires_at_key)
            stamp = str(int(expires_at.timestamp()))
            if exp_row is None:
                s.add(WeChatToken(key=self.access_token_expires_at_key, value=stamp, expires_at=expires_at))
            else:
                exp_row.value, exp_row.expires_at = stamp, expires_at
            self.token_fetches += 1
            logger.info("fetched a new access token for %s", key.split("_")[0])
            return result["access_token"]

    def _get_json(self, method: str, url: str, **kwargs) -> dict:
        res = self._http.request(method, url, timeout=self.timeout, **kwargs)
        if res.status_code >= 400:
            raise WeChatClientException(None, f"HTTP {res.status_code}", client=self, request=res.request,
                                        response=res)
        result = res.json()
        if result.get("errcode", 0) != 0:
            raise WeChatClientException(result["errcode"], result.get("errmsg"), client=self,
                                        request=res.request, response=res)
        return result

    @property
    def access_token(self):
        token = self.session.get(self.access_token_key)
        return token if token else self.fetch_access_token()


class MpClient(_TokenMixin, wechatpy.WeChatClient):
    def __init__(self, config, http=None):
        super().__init__(config["MP_APP_ID"], config["MP_SECRET"], session=DatabaseTokenStorage(),
                         timeout=config["NOTIFY_HTTP_TIMEOUT"], auto_retry=False)
        self.API_BASE_URL = config["MP_API_BASE"]
        self._http = http or build_session(config)

    def fetch_access_token(self, stale: str | None = None, force: bool = False):
        def fetch():
            return self._get_json("POST", f"{self.API_BASE_URL}stable_token",
                                  json={"grant_type": "client_credential", "appid": self.appid,
                                        "secret": self.secret, "force_refresh": bool(force or stale)})

        return self._refresh(fetch, stale=stale)


class WecomClient(_TokenMixin, wechatpy.work.WeChatClient):
    def __init__(self, config, http=None):
        super().__init__(config["WECOM_CORP_ID"], config["WECOM_SECRET"], session=DatabaseTokenStorage(),
                         timeout=config["NOTIFY_HTTP_TIMEOUT"], auto_retry=False)
        self.API_BASE_URL = config["WECOM_API_BASE"]
        self._http = http or build_session(config)

    def fetch_access_token(self, stale: str | None = None, force: bool = False):
        def fetch():
            return self._get_json("GET", f"{self.API_BASE_URL}gettoken",
                                  params={"corpid": self.corp_id, "corpsecret": self.secret})

        return self._refresh(fetch, stale=stale)
