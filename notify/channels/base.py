"""Shared plumbing for the WeChat channels: turn wechatpy's exceptions into a SendResult."""

from __future__ import annotations

import requests
from wechatpy.exceptions import WeChatClientException

from notify.errors import SendResult


class WeChatChannel:
    client_class = None

    def __init__(self, config, client=None):
        self.config = config
        self.client = client or self.client_class(config)

    def call(self, path: str, body: dict) -> SendResult:
        try:
            result = self.client.post(path, data=body)
        except WeChatClientException as exc:
            status = exc.response.status_code if getattr(exc, "response", None) is not None else None
            return SendResult(errcode=exc.errcode, message=str(exc.errmsg or "")[:200], http_status=status)
        except requests.RequestException as exc:
            return SendResult(errcode=None, message=type(exc).__name__)
        except ValueError as exc:  # unreadable body
            return SendResult(errcode=None, message=f"bad response: {exc}"[:200])
        if not isinstance(result, dict):
            return SendResult(errcode=None, message="non-JSON response")
        return self.interpret(result)

    def interpret(self, result: dict) -> SendResult:
        return SendResult(errcode=int(result.get("errcode", 0)), message=str(result.get("errmsg", "")),
                          msgid=str(result["msgid"]) if result.get("msgid") is not None else None)

    def refresh_token(self, stale: str | None) -> None:
        self.client.fetch_access_token(stale=stale)

    def current_token(self) -> str | None:
        return self.client.session.get(self.client.access_token_key)
