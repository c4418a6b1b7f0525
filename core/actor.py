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
    #: Plain copies taken at construction: audit rows for security events are written after the request's
    #: transaction was rolled back, when touching the (expired) ORM objects would reopen it.
    user_id: int | None = None
    name: str = ""
    unit_id: int | None = None
    #: A visitor who has not signed in (login attempts): no user, and no system powers either.
    anonymous: bool = False
    #: A service token's scope (a unit path): what the actor reaches is limited to that subtree — its
    #: memberships, and also what it would reach as the person (filed, assigned, 包案).
    within: str | None = None
    #: Every effective membership of the user, whatever ``within`` says: the 检举控告 rule hides a case from
    #: every user of the accused unit, so a narrower scope must not un-hide it (narrowing never widens).
    own_memberships: tuple[Membership, ...] = ()
    #: When this web session last gave the second factor (epoch seconds; core.accounts.factor_views): the
    #: operations that need a fresh one (issuing an API token) read it here, whatever channel called them.
    factor_at: int | None = None
    #: the gateway's own id of the request (X-Request-Id), recorded beside ours in audit rows (core.web)
    client_request_id: str | None = None

    def factor_is_fresh(self, seconds: int = 600) -> bool:
        import time

        return self.factor_at is not None and 0 <= int(time.time()) - self.factor_at <= seconds

    @classmethod
    def for_user(cls, user: User, *, ip=None, request_id=None, channel="web", within: str | None = None,
                 factor_at: int | None = None, client_request_id: str | None = None) -> Actor:
        """``within``: a unit path — only memberships placed inside that subtree act (a service token's scope,
        center/api/auth.py): a narrowing of the user's own rights, never a widening."""
        effective = tuple(m for m in user.memberships if m.is_effective)
        active = tuple(m for m in effective if within is None or m.place_path.startswith(within))
        unit_id = None
        if active:
            first = active[0]
            unit_id = first.unit_id if first.unit_id else first.department.unit_id
        return cls(user=user, memberships=active, ip=ip, request_id=request_id or uuid.uuid4().hex,
                   channel=channel, user_id=user.id, name=user.username, unit_id=unit_id, within=within,
                   own_memberships=effective, factor_at=factor_at, client_request_id=client_request_id)

    @classmethod
    def system(cls, channel: str = "job") -> Actor:
        """Jobs and CLI commands: no user, no jurisdiction limits (they act on the platform's behalf)."""
        return cls(user=None, memberships=(), channel=channel)

    @classmethod
    def visitor(cls, *, ip=None, request_id=None, channel="web", client_request_id: str | None = None) -> Actor:
        return cls(user=None, ip=ip, request_id=request_id or uuid.uuid4().hex, channel=channel, name="anonymous",
                   anonymous=True, client_request_id=client_request_id)

    @property
    def is_system(self) -> bool:
        return self.user is None and not self.anonymous

    def reaches_path(self, path: str | None) -> bool:
        """Whether a unit at ``path`` lies inside the actor's token scope (always, without one)."""
        return self.within is None or (path is not None and path.startswith(self.within))

    @property
    def roles(self) -> set[str]:
        return {m.role for m in self.memberships}

    def __str__(self) -> str:
        return self.name if self.user is not None or self.anonymous else f"system:{self.channel}"
