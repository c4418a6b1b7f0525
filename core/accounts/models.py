"""Accounts: User, Membership (a role at a unit or a department), server-side sessions, lockout, policy."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import enum_column
from core.org.models import Department, OrgUnit


class Role(StrEnum):
    system_admin = "system_admin"
    security_admin = "security_admin"
    auditor = "auditor"
    district_leader = "district_leader"
    center_staff = "center_staff"
    department_head = "department_head"
    department_liaison = "department_liaison"
    township_leader = "township_leader"
    township_staff = "township_staff"
    village_head = "village_head"
    village_cadre = "village_cadre"
    grid_worker = "grid_worker"


ROLE_LABELS = {
    Role.system_admin: "系统管理员",
    Role.security_admin: "安全管理员",
    Role.auditor: "安全审计员",
    Role.district_leader: "区领导",
    Role.center_staff: "中心受理员",
    Role.department_head: "部门负责人",
    Role.department_liaison: "部门联络员",
    Role.township_leader: "乡镇领导",
    Role.township_staff: "乡镇工作人员",
    Role.village_head: "村(社区)主任",
    Role.village_cadre: "村(社区)干部",
    Role.grid_worker: "网格员",
}

#: Roles held at a department rather than at a unit.
DEPARTMENT_ROLES = frozenset({Role.department_head, Role.department_liaison})


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Set by an admin reset: the user must choose a new password at next sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    title: Mapped[str | None] = mapped_column(String(64))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.id")

    # flask-login protocol, written out so models need not import flask_login.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def primary_membership(self) -> Membership | None:
        effective = [m for m in self.memberships if m.is_effective]
        return effective[0] if effective else None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class Membership(TimestampMixin, Base):
    """A role held at exactly one place: an org unit, or a department."""

    __tablename__ = "memberships"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("(unit_id IS NULL) <> (department_id IS NULL)", name="one_place"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "membership_role"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[OrgUnit | None] = relationship()
    department: Mapped[Department | None] = relationship()

    @property
    def is_effective(self) -> bool:
        place_active = (self.unit.is_active if self.unit is not None
                        else self.department is not None and self.department.is_active)
        return self.is_active and place_active

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def place_name(self) -> str:
        if self.department is not None:
            return f"{self.department.unit.name} · {self.department.name}"
        return self.unit.name if self.unit else ""

    @property
    def scope_unit(self) -> OrgUnit | None:
        """The unit whose subtree this membership covers (none for department memberships)."""
        return self.unit

    def __repr__(self) -> str:
        return f"<Membership {self.user_id} {self.role} u{self.unit_id} d{self.department_id}>"


class WebSession(Base):
    """Server-side session. The cookie carries a random id; we store only its SHA-256, so a database
    leak yields no usable cookie. Deleting rows ends sessions (logout, password change, disabled user)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="web")


class LoginThrottle(Base):
    """Failed-login counter per username (known or not), shared by all workers through the database."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SecurityPolicy(Base):
    """One row; only the security admin edits it (三权分立)."""

    __tablename__ = "security_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    min_length: Mapped[int] = mapped_column(Integer, default=8)
    min_classes: Mapped[int] = mapped_column(Integer, default=3)
    rotation_days: Mapped[int] = mapped_column(Integer, default=90)
    lockout_threshold: Mapped[int] = mapped_column(Integer, default=5)
    lockout_minutes: Mapped[int] = mapped_column(Integer, default=15)
    idle_minutes: Mapped[int] = mapped_column(Integer, default=30)
    absolute_hours: Mapped[int] = mapped_column(Integer, default=12)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token for the JSON API, issued per user by an admin. Like sessions, only the SHA-256 of the
    token is stored; ``prefix`` (its first characters) lets the admin tell tokens apart. Revoked, never
    deleted, so the audit trail keeps its referent."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user {self.user_id} {self.prefix}…>"
