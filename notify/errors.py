"""What a channel's send returns: the platform's verdict, never an exception for expected failures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    errcode: int | None          # 0 ok; None for transport failures (timeout, connection, HTTP 5xx)
    message: str = ""
    http_status: int | None = None
    msgid: str | None = None
    invalid_recipient: bool = False  # WeCom answers errcode 0 with "invaliduser"

    @property
    def ok(self) -> bool:
        return self.errcode == 0 and not self.invalid_recipient
