"""Accounts: User, Membership (a role at a unit or a department), server-side sessions, lockout, policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import LabelledEnum, enum_column
from core.org.models import Department, OrgUnit


class Role(LabelledEnum):
    system_admin = "system_admin", "系统管理员"
    security_admin = "security_admin", "安全管理员"
    auditor = "auditor", "安全审计员"
    district_leader = "district_leader", "区领导"
    center_staff = "center_staff", "中心受理员"
    department_head = "department_head", "部门负责人"
    department_liaison = "department_liaison", "部门联络员"
    township_leader = "township_leader", "乡镇领导"
    township_staff = "township_staff", "乡镇工作人员"
    village_head = "village_head", "村(社区)主任"
    village_cadre = "village_cadre", "村(社区)干部"
    grid_worker = "grid_worker", "网格员"


ROLE_LABELS = Role.labels()

#: Roles held at a department rather than at a unit.
DEPARTMENT_ROLES = frozenset({Role.department_head, Role.department_liaison})
#: The three administrators of 三权分立 (GB/T 22239-2019 §8.1.4.2 d): the system administrator creates and places
#: accounts, the security administrator grants rights, the auditor reads the audit log. One account never holds
#: two of them, and none of them acts alone on the account of another (core.accounts.dual_control).
ADMIN_ROLES = frozenset({Role.system_admin, Role.security_admin, Role.auditor})


class AccountKind(LabelledEnum):
    #: a person who signs in with a password (and WeChat once bound)
    person = "person", "人员账户"
    #: another system calling the API with a scoped token; it never signs in interactively
    service = "service", "接口服务账户"


ACCOUNT_KIND_LABELS = AccountKind.labels()

#: Stored instead of a password hash for service accounts: not an argon2 hash, so no password ever matches it.
NO_PASSWORD = "!service-account-no-password"


class MembershipStatus(LabelledEnum):
    #: placed by the system administrator, waiting for the security administrator: grants nothing
    proposed = "proposed", "待激活"
    active = "active", "有效"
    #: the security administrator declined it
    refused = "refused", "已拒绝"
    ended = "ended", "已撤销"


MEMBERSHIP_STATUS_LABELS = MembershipStatus.labels()


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
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, "account_kind"), default=AccountKind.person,
                                              server_default=AccountKind.person.value)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.id",
        foreign_keys="Membership.user_id")

    @property
    def is_service(self) -> bool:
        return self.kind == AccountKind.service

    @property
    def kind_label(self) -> str:
        return ACCOUNT_KIND_LABELS[self.kind]

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
    """A role held at exactly one place: an org unit, or a department.

    Proposed by the system administrator, activated (or refused) by the security administrator
    (core.accounts.memberships): until then it grants nothing. ``is_active`` reads the status, so the queries
    of every feature that ask for active memberships see activated ones only."""

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
    status: Mapped[MembershipStatus] = mapped_column(
        enum_column(MembershipStatus, "membership_status"), default=MembershipStatus.proposed,
        server_default=MembershipStatus.proposed.value, index=True)
    #: who placed the user here (None: the server console)
    proposed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: who activated or refused it (None while proposed, or when the console activated it)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    unit: Mapped[OrgUnit | None] = relationship()
    department: Mapped[Department | None] = relationship()
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_user_id])

    @hybrid_property
    def is_active(self) -> bool:
        """Activated and not ended (a proposed or refused membership is not active)."""
        return self.status == MembershipStatus.active

    @is_active.inplace.setter
    def _is_active_setter(self, value: bool) -> None:
        # Ending is always allowed; activating goes through core.accounts.memberships.activate_membership,
        # which checks who activates and records it.
        if value:
            raise AttributeError("a membership is activated by core.accounts.memberships.activate_membership")
        self.status = MembershipStatus.ended

    @is_active.inplace.expression
    @classmethod
    def _is_active_expression(cls):
        return cls.status == MembershipStatus.active

    @property
    def is_effective(self) -> bool:
        place_active = (self.unit.is_active if self.unit is not None
                        else self.department is not None and self.department.is_active)
        return self.status == MembershipStatus.active and place_active

    @property
    def status_label(self) -> str:
        return MEMBERSHIP_STATUS_LABELS[self.status or MembershipStatus.proposed]

    @property
    def place_path(self) -> str:
        """The materialized path of the unit the membership sits at (a department sits at its unit)."""
        unit = self.unit if self.unit is not None else (self.department.unit if self.department else None)
        return unit.path if unit is not None else ""

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
    """Failed-login counter per username (known or not) and address (``operations.throttle_key``: the name,
    "|", a hash of the address), shared by all workers through the database."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def account(self) -> str:
        return self.username.split("|", 1)[0]


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
    #: Roles whose members sign in with a second factor, comma-separated; empty (NULL): the default of
    #: core.accounts.factors (every staff role but grid workers).
    factor_roles: Mapped[str | None] = mapped_column(String(400))
    #: how many of a user's latest passwords (the current one included) a new password may not repeat
    password_history: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PasswordHistory(Base):
    """The argon2 hashes of a user's earlier passwords, so a new password cannot repeat one of the last few
    (GB/T 22239-2019 §8.1.4.1 a). Only as many are kept as the policy compares against: an old hash is still a
    target for offline guessing."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: when this password stopped being the user's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<PasswordHistory {self.id} user {self.user_id}>"


class ApiToken(Base):
    """A bearer token for the JSON API (core.accounts.tokens). Personal tokens are issued by their owner; a service
    account's token is issued by the security administrator with a scope (API actions and a unit subtree). Like
    sessions, only the SHA-256 of the token is stored; ``prefix`` (its first characters) tells tokens apart.
    Revoked, never deleted, so the audit trail keeps its referent."""

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
    #: revoked by hand ("revoked"), or ended with the owner's password change or disabling
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: service tokens only: the API actions it may call (names registered in core.hooks.api_scopes) …
    scope_actions: Mapped[list | None] = mapped_column(JSON)
    #: … and the unit subtree whose memberships of the account it acts with
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_user_id])
    scope_unit: Mapped[OrgUnit | None] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user {self.user_id} {self.prefix}…>"


class AdminActKind(LabelledEnum):
    reset_password = "reset_password", "重置密码"
    disable = "disable", "停用账户"
    enable = "enable", "启用账户"
    end_membership = "end_membership", "撤销岗位"
    bind_device = "bind_device", "绑定微信"
    #: a lost second factor (any account, not only an administrator's): the user enrols anew at sign-in
    reset_factor = "reset_factor", "重置动态口令"
    #: break-glass only (the console): clearing a lockout is no credential, so the web needs no request for it
    unlock = "unlock", "解除登录锁定"


ADMIN_ACT_LABELS = AdminActKind.labels()


class AdminRequestStatus(LabelledEnum):
    pending = "pending", "待批准"
    #: approved, waiting for the requester to carry it out (bind_device: the requester issues the code)
    approved = "approved", "已批准待执行"
    executed = "executed", "已执行"
    rejected = "rejected", "已驳回"
    cancelled = "cancelled", "已撤回"


ADMIN_REQUEST_STATUS_LABELS = AdminRequestStatus.labels()


class AdminRequest(TimestampMixin, Base):
    """An act on an administrator's account that no administrator may take alone (dual control): requested by
    one administrator, approved by the third (never the requester, never the target), then carried out. The
    server console's break-glass recovery is recorded here too (``channel`` "cli", no requester)."""

    __tablename__ = "admin_requests"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AdminActKind] = mapped_column(enum_column(AdminActKind, "admin_act_kind"))
    status: Mapped[AdminRequestStatus] = mapped_column(enum_column(AdminRequestStatus, "admin_request_status"),
                                                       default=AdminRequestStatus.pending, index=True)
    target_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: end_membership: the membership to end
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the requester's administrator role when asking: the approver must hold the third one
    requester_role: Mapped[Role | None] = mapped_column(enum_column(Role, "admin_request_requester_role"))
    reason: Mapped[str] = mapped_column(String(200))
    #: reset_password: the argon2 hash of the new password the requester chose, until carried out (then cleared)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(200))
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(8), default="web")

    target: Mapped[User] = relationship(foreign_keys=[target_user_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_user_id])
    membership: Mapped[Membership | None] = relationship()

    @property
    def kind_label(self) -> str:
        return ADMIN_ACT_LABELS[self.kind]

    @property
    def status_label(self) -> str:
        return ADMIN_REQUEST_STATUS_LABELS[self.status]

    def __repr__(self) -> str:
        return f"<AdminRequest {self.id} {self.kind} {self.status} target {self.target_user_id}>"
