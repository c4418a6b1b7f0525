"""Actor: who performs an operation, built by the view, job or CLI command and passed explicitly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.accounts.models import Membership, User

CHANNELS = ("web", "api", "wechat", "job", "cli")


@dataclass(frozen=True)
class Actor:
    user: User | None
    memberships: tuple[Membership, ...] = ()
    ip: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    channel: str = "web"

    @classmethod
    def for_user(cls, user: User, *, ip=None, request_id=None, channel="web") -> Actor:
        active = tuple(m for m in user.memberships if m.is_effective)
        return cls(user=user, memberships=active, ip=ip, request_id=request_id or uuid.uuid4().hex,
                   channel=channel)

    @classmethod
    def system(cls, channel: str = "job") -> Actor:
        """Jobs and CLI commands: no user, no jurisdiction limits (they act on the platform's behalf)."""
        return cls(user=None, memberships=(), channel=channel)

    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def roles(self) -> set[str]:
        return {m.role for m in self.memberships}

    def __str__(self) -> str:
        return self.user.username if self.user else f"system:{self.channel}"
