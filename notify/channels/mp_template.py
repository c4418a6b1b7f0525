"""Official Account template message (typed category-template fields, rendered in notify/render.py)."""

from __future__ import annotations

from notify.channels.base import WeChatChannel
from notify.errors import SendResult
from notify.wechat.clients import MpClient


class MpTemplateChannel(WeChatChannel):
    client_class = MpClient

    def send(self, request: dict) -> SendResult:
        # client_msg_id is in the rendered body: a resend within 10 minutes is absorbed by the platform.
        return self.call("message/template/send", request)
