"""Second factor tables: one TOTP authenticator per user, ten one-time recovery codes, the roles that require
a second factor (the security policy's ``factor_roles``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class UserFactor(Base):
    """A user's authenticator. ``secret`` is the TOTP key encrypted by the crypto provider; ``confirmed_at``
    is empty while the user has not yet typed a first code from it (enrolment); ``last_step`` is the last time
    step accepted, so a code is never accepted twice (RFC 6238 §5.2)."""

    __tablename__ = "user_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """One of the ten codes shown once at enrolment; stored as a keyed hash, spent by use."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
