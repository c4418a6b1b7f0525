"""The case registry (DOMAIN.md §2, DESIGN.md §4): Case, Party, CaseEvent, Deadline, CaseCounter.

A case is never deleted: it changes status and accumulates CaseEvent rows. Deadlines are rows, not columns.
Personal data of parties (document numbers, phones, addresses) is stored as ciphertext from
``core.crypto.provider()`` with a keyed blind index for exact lookups; names stay plain text (GB 18030 rare
characters included: Text columns, no byte limits).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from center.cases.intake.identity import ID_TYPE_LABELS, IdType  # noqa: F401 - re-exported for callers
from core.db import Base, CString, TimestampMixin, UTCDateTime, utcnow
from core.enums import LabelledEnum, enum_column
from core.org.models import Department, OrgUnit
from core.work.deadlines import DEADLINE_KIND_LABELS, DeadlineKind, DeadlineRow  # noqa: F401 - re-exported
from core.work.models import BoundToSubject, SubjectMixin
from core.work.timeline import register_subject

if TYPE_CHECKING:
    from center.departments.models import CaseAssignment
    from core.accounts.models import User

#: 集体访: this many people or more.
COLLECTIVE_THRESHOLD = 5

#: Default dispute categories (DOMAIN.md §2); ``CASE_CATEGORIES`` in the app config replaces the list.
DEFAULT_CATEGORIES = ("婚姻家庭", "邻里纠纷", "土地/山林权属", "征地拆迁", "劳资/欠薪", "涉房/物业", "合同债务",
                      "损害赔偿", "医疗", "交通事故", "环境污染", "涉企", "其他")


class CaseKind(LabelledEnum):
    dispute = "dispute", "矛盾纠纷"
    petition = "petition", "信访事项"


class PetitionClass(LabelledEnum):
    suggestion = "suggestion", "建议意见类"
    accusation = "accusation", "检举控告类"
    appeal = "appeal", "申诉求决类"


class CaseChannel(LabelledEnum):
    visit = "visit", "来访"
    letter = "letter", "来信"
    online = "online", "网上"
    phone = "phone", "电话"
    video = "video", "视频"
    grid_report = "grid_report", "网格上报"
    grid_agent = "grid_agent", "网格员代办"
    screening = "screening", "排查发现"
    reception = "reception", "领导接访"
    hotline = "hotline", "12345 热线"


class RiskColour(LabelledEnum):
    red = "red", "红"
    orange = "orange", "橙"
    yellow = "yellow", "黄"
    blue = "blue", "蓝"


class CaseStatus(LabelledEnum):
    registered = "registered", "已登记"
    accepted = "accepted", "已受理"
    not_accepted = "not_accepted", "不予受理"
    handed_down = "handed_down", "已交办"
    escalated = "escalated", "已上报"
    in_progress = "in_progress", "办理中"
    mediating = "mediating", "调解中"
    answered = "answered", "已答复"
    closed = "closed", "已办结"
    evaluated = "evaluated", "已评价"
    reopened = "reopened", "已重新办理"
    guided_to_legal = "guided_to_legal", "已导入法定程序"
    terminated = "terminated", "已终结"


class PartyRole(LabelledEnum):
    applicant = "applicant", "申请人"
    respondent = "respondent", "被申请人"


class PartyKind(StrEnum):
    person = "person"
    organisation = "organisation"


KIND_LABELS = CaseKind.labels()
PETITION_CLASS_LABELS = PetitionClass.labels()
CHANNEL_LABELS = CaseChannel.labels()
RISK_LABELS = RiskColour.labels()
STATUS_LABELS = CaseStatus.labels()
PARTY_ROLE_LABELS = PartyRole.labels()


class Case(SubjectMixin, TimestampMixin, Base):
    __tablename__ = "cases"
    __subject_kind__ = "case"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("people_count >= 1", name="people_count_positive"),
        CheckConstraint("(kind = 'petition') = (petition_class IS NOT NULL)", name="petition_class_iff_petition"),
        Index("ix_cases_handling_status", "handling_unit_id", "status"),
        Index("ix_cases_department_received", "handling_department_id", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(CString(32), unique=True)
    kind: Mapped[CaseKind] = mapped_column(enum_column(CaseKind, "case_kind"))
    petition_class: Mapped[PetitionClass | None] = mapped_column(enum_column(PetitionClass, "petition_class"))
    category: Mapped[str] = mapped_column(String(32))
    channel: Mapped[CaseChannel] = mapped_column(enum_column(CaseChannel, "case_channel"))
    summary: Mapped[str] = mapped_column(Text)
    demands: Mapped[str | None] = mapped_column(Text)
    people_count: Mapped[int] = mapped_column(Integer, default=1)
    risk_colour: Mapped[RiskColour] = mapped_column(enum_column(RiskColour, "risk_colour"))
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus, "case_status"), index=True)
    #: When the matter itself happened (as the party tells it); never in the future.
    occurred_on: Mapped[date | None] = mapped_column(Date)
    #: When the case was received (registered); the statutory clock starts from its Shanghai date.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    origin_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    handling_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    #: The department that is the handling organ (信访工作条例 Art. 31–33: 转送/交办 to the competent organ), or
    #: None when the handling unit's center is the organ. The handling unit keeps giving the case its scope.
    #: indexed with received_at (ix_cases_department_received): a department's own cases, oldest first
    handling_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_leader_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    accused_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    filed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    repeat_of_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)

    xinfang_no: Mapped[str | None] = mapped_column(String(64))
    hotline_ticket: Mapped[str | None] = mapped_column(String(64))
    court_case_no: Mapped[str | None] = mapped_column(String(64))
    #: Idempotency key of an intake (generated in the browser for offline-kept forms, or by an API client):
    #: a double or late submit finds the case already made instead of making a second one.
    intake_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    origin_unit: Mapped[OrgUnit] = relationship(foreign_keys=[origin_unit_id])
    handling_unit: Mapped[OrgUnit] = relationship(foreign_keys=[handling_unit_id])
    handling_department: Mapped[Department | None] = relationship(foreign_keys=[handling_department_id])
    accused_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[accused_unit_id])
    repeat_of: Mapped[Case | None] = relationship(remote_side="Case.id")
    parties: Mapped[list[Party]] = relationship(back_populates="case", order_by="Party.id")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")
    deadlines: Mapped[list[Deadline]] = relationship(back_populates="case", order_by="Deadline.id")
    assignments: Mapped[list[CaseAssignment]] = relationship(
        back_populates="case", order_by="CaseAssignment.id")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_user_id])
    owner_leader: Mapped[User | None] = relationship(foreign_keys=[owner_leader_user_id])

    @property
    def is_collective(self) -> bool:
        return (self.people_count or 0) >= COLLECTIVE_THRESHOLD

    @property
    def mediation_referred(self) -> bool:
        """访调对接: the petition went to people's mediation (its timeline has the referral)."""
        return any(e.action == "refer_mediation" for e in self.events)

    @property
    def is_accusation(self) -> bool:
        return self.petition_class == PetitionClass.accusation

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def jurisdiction(self) -> tuple[list[OrgUnit], set[int]]:
        """Units and department ids whose memberships cover this case (core.auth.permissions.covers)."""
        units = [self.origin_unit, self.handling_unit]
        departments = {a.department_id for a in self.assignments if a.is_live}
        if self.handling_department_id is not None:
            departments.add(self.handling_department_id)
        return [u for u in units if u is not None], departments

    def __repr__(self) -> str:
        return f"<Case {self.id} {self.number} {self.kind} {self.status}>"


class Party(TimestampMixin, Base):
    __tablename__ = "case_parties"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("(id_number_enc IS NULL) = (id_index IS NULL)", name="id_index_with_number"),
        CheckConstraint("(phone_enc IS NULL) = (phone_index IS NULL)", name="phone_index_with_phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[PartyRole] = mapped_column(enum_column(PartyRole, "party_role"))
    kind: Mapped[PartyKind] = mapped_column(enum_column(PartyKind, "party_kind"))
    name: Mapped[str] = mapped_column(Text)
    id_type: Mapped[IdType | None] = mapped_column(enum_column(IdType, "party_id_type"))
    #: Ciphertext "<key version>:<base64>" (core.crypto); never the plain number.
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    id_index: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    address_enc: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="parties")

    def __repr__(self) -> str:
        return f"<Party {self.id} case {self.case_id} {self.role} {self.kind}>"


class CaseEvent(BoundToSubject, Base):
    """One step on the case's timeline. Names of changed fields only: personal values never appear here."""

    __tablename__ = "case_events"
    __subject_owner__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[CaseStatus | None] = mapped_column(enum_column(CaseStatus, "case_event_from_status"))
    to_status: Mapped[CaseStatus | None] = mapped_column(enum_column(CaseStatus, "case_event_to_status"))
    note: Mapped[str | None] = mapped_column(Text)
    changed_fields: Mapped[list] = mapped_column(JSON, default=list)

    case: Mapped[Case] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<CaseEvent {self.id} case {self.case_id} {self.action} {self.from_status}→{self.to_status}>"


class Deadline(DeadlineRow, BoundToSubject, TimestampMixin, Base):
    """A running or met deadline of one rule (center.cases.lifecycle.operations.DEADLINE_RULES) on one case.

    Each row is held by one **responsible** unit or department (the handling organ when it started). A move
    (转送, 交办, 上报, 退回) ends the running row for the old holder (``ended_by`` "moved") and opens a continuation
    row (``continues_id``) with the same period for the new one, so lateness is charged to whoever held the
    step on its last day (center.cases.lifecycle.clock.is_late)."""

    __tablename__ = "case_deadlines"
    __subject_owner__ = "case"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("supervision_level BETWEEN 0 AND 3", name="supervision_level_range"),
        CheckConstraint("paused_days >= 0", name="paused_days_not_negative"),
        CheckConstraint("due_on >= started_on", name="due_after_start"),
        Index("ix_case_deadlines_open_due", "met_at", "due_on"),
        # A case's open deadlines in due order (next_deadlines, the scope table's next deadline): one range
        # per case, where (met_at, due_on) alone made every list walk every open deadline of the district.
        Index("ix_case_deadlines_case_open", "case_id", "met_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # rule, started_on, due_on, met_at, kind, the responsible unit or department, held_since, continues_id,
    # ended_by, paused_days, provisional, supervision_level: core.work.deadlines.DeadlineRow

    case: Mapped[Case] = relationship(back_populates="deadlines")
    responsible_unit: Mapped[OrgUnit | None] = relationship(foreign_keys="Deadline.responsible_unit_id")
    responsible_department: Mapped[Department | None] = relationship(foreign_keys="Deadline.responsible_department_id")

    @property
    def is_window(self) -> bool:
        return self.kind == DeadlineKind.window

    def __repr__(self) -> str:
        return f"<Deadline {self.id} case {self.case_id} {self.rule} due {self.due_on}>"


class CaseCounter(Base):
    """Last case number issued per district and year; bumped by one conditional UPDATE (numbering.py)."""

    __tablename__ = "case_counters"
    __table_args__ = (CheckConstraint("last >= 0", name="last_not_negative"),)

    district_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True, autoincrement=False)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<CaseCounter {self.district_id} {self.year} {self.last}>"


def _case_event(case: Case, **fields) -> CaseEvent:
    return CaseEvent(case=case, **fields)


# A case is a work subject: timeline.log writes its CaseEvent rows (with from/to status for a transition) and
# files the audit row under its handling unit.
register_subject(Case, event=_case_event, unit=lambda case: case.handling_unit_id, audit_prefix="case")
