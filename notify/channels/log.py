"""Development channel: writes the message to the log (no personal data: title and link only)."""

from __future__ import annotations

import logging

from notify.errors import SendResult

logger = logging.getLogger("notify.log_channel")


class LogChannel:
    def __init__(self, config):
        self.config = config

    def send(self, request: dict, **_) -> SendResult:
        logger.info("notification: %s", request.get("text", "")[:200])
        return SendResult(errcode=0)

    def refresh_token(self, stale):
        return None

    def current_token(self):
        return None
