"""SMS behind a provider interface. The stub stores what it would send, de-duplicated by our key (SMS
providers do not de-duplicate). A real provider implements the same ``send``."""

from __future__ import annotations

from sqlalchemy import select

from core.crypto import provider
from core.db import own_transaction
from notify.errors import SendResult
from notify.models import SmsMessage


class SmsStubChannel:
    def __init__(self, config):
        self.config = config

    def send(self, request: dict, *, phone: str | None = None) -> SendResult:
        if not phone:
            return SendResult(errcode=40003, message="no phone")
        with own_transaction() as s:
            if s.scalar(select(SmsMessage.id).where(SmsMessage.dedupe_key == request["dedupe_key"])) is None:
                s.add(SmsMessage(dedupe_key=request["dedupe_key"], phone_enc=provider().encrypt(phone),
                                 text=request["text"][:500]))
        return SendResult(errcode=0, msgid=request["dedupe_key"])

    def refresh_token(self, stale):
        return None

    def current_token(self):
        return None
