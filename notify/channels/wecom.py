"""WeCom (企业微信 / 政务微信) app message: a text card linking to our mobile page."""

from __future__ import annotations

from notify.channels.base import WeChatChannel
from notify.errors import SendResult
from notify.wechat.clients import WecomClient


class WecomChannel(WeChatChannel):
    client_class = WecomClient

    def send(self, request: dict) -> SendResult:
        return self.call("message/send", request)

    def interpret(self, result: dict) -> SendResult:
        base = super().interpret(result)
        if base.errcode == 0 and result.get("invaliduser"):
            return SendResult(errcode=0, message="invaliduser", msgid=base.msgid, invalid_recipient=True)
        return base
