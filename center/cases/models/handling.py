"""Working a case: department assignments (dispatch, rotating queue, on-call summons), answer documents and
their service records, mediation sessions, the one extension and 督办 records.

Every row belongs to one case and is never deleted: a withdrawn assignment or a replaced draft keeps its row,
so the case page can show the whole history.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import enum_column
from core.org.models import Department, OrgUnit

if TYPE_CHECKING:
    from center.cases.models.case import Case, Deadline


# --- department assignments ----------------------------------------------------------------------------

class AssignmentStatus(StrEnum):
    #: rotating department not on duty now: waits in its queue and is worked when its turn comes
    queued = "queued"
    #: on-call department summoned: must acknowledge and arrive by ``arrive_by``
    summoned = "summoned"
    acknowledged = "acknowledged"
    #: working the case (resident at once; rotating on duty; on-call once arrived)
    active = "active"
    done = "done"
    withdrawn = "withdrawn"


ASSIGNMENT_STATUS_LABELS = {
    AssignmentStatus.queued: "排队待办", AssignmentStatus.summoned: "已召集", AssignmentStatus.acknowledged: "已响应",
    AssignmentStatus.active: "办理中", AssignmentStatus.done: "已完成", AssignmentStatus.withdrawn: "已撤回",
}
LIVE_ASSIGNMENT = frozenset({AssignmentStatus.queued, AssignmentStatus.summoned, AssignmentStatus.acknowledged,
                             AssignmentStatus.active})
LIVE_SQL = "status IN ('queued', 'summoned', 'acknowledged', 'active')"


class CaseAssignment(TimestampMixin, Base):
    """A department joining the work on a case (联合调处). Its users see the case while the assignment is live."""

    __tablename__ = "case_assignments"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("(status <> 'summoned') OR arrive_by IS NOT NULL", name="summons_has_arrival_time"),
        Index("ix_case_assignments_department_status", "department_id", "status"),
        # One live assignment per department and case, whatever two clerks do at once.
        Index("uq_case_assignments_live", "case_id", "department_id", unique=True,
              sqlite_where=text(LIVE_SQL), postgresql_where=text(LIVE_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[AssignmentStatus] = mapped_column(enum_column(AssignmentStatus, "assignment_status"))
    task: Mapped[str | None] = mapped_column(Text)
    assigned_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: on-call summons: the arrival time the summoning clerk requires
    arrive_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="assignments")
    department: Mapped[Department] = relationship()

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_ASSIGNMENT

    @property
    def status_label(self) -> str:
        return ASSIGNMENT_STATUS_LABELS[self.status]

    def jurisdiction(self):
        return [self.department.unit], {self.department_id}

    def __repr__(self) -> str:
        return f"<CaseAssignment {self.id} case {self.case_id} dept {self.department_id} {self.status}>"


# --- documents and service -----------------------------------------------------------------------------

class DocumentKind(StrEnum):
    answer = "answer"                    # 答复意见书 / 信访处理意见书
    not_accepted = "not_accepted"        # 不予受理通知书
    acceptance = "acceptance"            # 受理告知书
    extension = "extension"              # 延期告知书
    review_opinion = "review_opinion"    # 复查意见书
    supervision = "supervision"          # 督办通知书
    agreement = "agreement"              # 调解协议书


DOCUMENT_KIND_LABELS = {
    DocumentKind.answer: "答复意见书", DocumentKind.not_accepted: "不予受理通知书", DocumentKind.acceptance: "受理告知书",
    DocumentKind.extension: "延期告知书", DocumentKind.review_opinion: "复查意见书",
    DocumentKind.supervision: "督办通知书", DocumentKind.agreement: "调解协议书",
}


class CaseDocument(TimestampMixin, Base):
    """A formal document issued in the name of an organ. Drafted from a template, edited by its drafter, then
    approved in a separate action by a leader of that organ who is not the drafter; approved means frozen."""

    __tablename__ = "case_documents"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("approved_by_user_id IS NULL OR approved_by_user_id <> drafter_user_id",
                        name="approver_not_drafter"),
        CheckConstraint("(approved_at IS NULL) = (approved_by_user_id IS NULL)", name="approval_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, "document_kind"))
    #: the answering organ: a unit's center, or a department for a department's answer
    organ_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    organ_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    organ_name: Mapped[str] = mapped_column(String(100))
    doc_no: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    drafter_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a newer draft of the same kind replaced this one before approval
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[Case] = relationship()
    organ_unit: Mapped[OrgUnit] = relationship()
    organ_department: Mapped[Department | None] = relationship()
    services: Mapped[list[ServiceRecord]] = relationship(back_populates="document", order_by="ServiceRecord.id")

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None

    @property
    def kind_label(self) -> str:
        return DOCUMENT_KIND_LABELS[self.kind]

    def jurisdiction(self):
        return self.case.jurisdiction()

    def __repr__(self) -> str:
        return f"<CaseDocument {self.id} case {self.case_id} {self.kind} approved={self.is_approved}>"


class ServiceMethod(StrEnum):
    direct = "direct"                    # 直接送达 (receipt signed)
    registered_mail = "registered_mail"  # 挂号信/EMS
    electronic = "electronic"            # 网上信访系统/短信
    entrusted = "entrusted"              # 委托送达 (e.g. through the village)


SERVICE_METHOD_LABELS = {ServiceMethod.direct: "直接送达", ServiceMethod.registered_mail: "邮寄送达（挂号/EMS）",
                         ServiceMethod.electronic: "电子送达", ServiceMethod.entrusted: "委托送达"}


class ServiceRecord(TimestampMixin, Base):
    """送达: the approved document reached the petitioner. The 复查 window counts from ``served_on``."""

    __tablename__ = "case_service_records"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("case_documents.id"), index=True)
    method: Mapped[ServiceMethod] = mapped_column(enum_column(ServiceMethod, "service_method"))
    served_on: Mapped[date] = mapped_column(Date)
    #: registered-mail number or receipt number
    reference: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(100))
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    document: Mapped[CaseDocument] = relationship(back_populates="services")

    def __repr__(self) -> str:
        return f"<ServiceRecord {self.id} doc {self.document_id} {self.method} {self.served_on}>"


# --- mediation --------------------------------------------------------------------------------------------

class MediationType(StrEnum):
    people = "people"                  # 人民调解
    administrative = "administrative"  # 行政调解
    judicial = "judicial"              # 司法调解


class MediationOutcome(StrEnum):
    success = "success"   # 调解成功 (调解协议书)
    failure = "failure"   # 调解不成 (guided to litigation)


MEDIATION_TYPE_LABELS = {MediationType.people: "人民调解", MediationType.administrative: "行政调解",
                         MediationType.judicial: "司法调解"}
MEDIATION_OUTCOME_LABELS = {MediationOutcome.success: "调解成功", MediationOutcome.failure: "调解不成"}


class MediationSession(TimestampMixin, Base):
    """One mediation session. The session with an outcome closes the dispute once the handling unit's leader
    approved it (the village head for a village)."""

    __tablename__ = "case_mediation_sessions"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("outcome IS NOT NULL OR approved_at IS NULL", name="approval_needs_outcome"),
        CheckConstraint("outcome <> 'success' OR agreement IS NOT NULL", name="success_has_agreement"),
        CheckConstraint("outcome <> 'failure' OR guidance IS NOT NULL", name="failure_has_guidance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    mediation_type: Mapped[MediationType] = mapped_column(enum_column(MediationType, "mediation_type"))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str | None] = mapped_column(String(100))
    mediators: Mapped[str] = mapped_column(String(200))
    participants: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[MediationOutcome | None] = mapped_column(enum_column(MediationOutcome, "mediation_outcome"))
    agreement: Mapped[str | None] = mapped_column(Text)
    #: 调解不成: the legal channel the parties were guided to (litigation, arbitration …)
    guidance: Mapped[str | None] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship()

    def __repr__(self) -> str:
        return f"<MediationSession {self.id} case {self.case_id} {self.outcome}>"


# --- extension and 督办 ---------------------------------------------------------------------------------

class Extension(TimestampMixin, Base):
    """延期: once per case (UNIQUE), at most 30 days, approved by the unit head, the petitioner told why."""

    __tablename__ = "case_extensions"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("case_id", name="once_per_case"),
        CheckConstraint("days BETWEEN 1 AND 30", name="days_range"),
        CheckConstraint("new_due_on > old_due_on", name="moves_forward"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id"))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    old_due_on: Mapped[date] = mapped_column(Date)
    new_due_on: Mapped[date] = mapped_column(Date)
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notice_document_id: Mapped[int | None] = mapped_column(ForeignKey("case_documents.id"))

    deadline: Mapped[Deadline] = relationship()

    def __repr__(self) -> str:
        return f"<Extension {self.id} case {self.case_id} +{self.days}d>"


class SupervisionForm(StrEnum):
    reminder = "reminder"      # system reminder (level 1)
    notice = "notice"          # 督办通知书 / 催办
    phone = "phone"
    letter = "letter"
    interview = "interview"    # 约谈
    on_site = "on_site"
    joint = "joint"            # 联合督办
    listed = "listed"          # 挂牌督办


SUPERVISION_LEVEL_LABELS = {1: "提醒", 2: "督办通知", 3: "挂牌督办"}
SUPERVISION_FORM_LABELS = {
    SupervisionForm.reminder: "系统提醒", SupervisionForm.notice: "督办通知书", SupervisionForm.phone: "电话督办",
    SupervisionForm.letter: "函件督办", SupervisionForm.interview: "约谈", SupervisionForm.on_site: "现场督办",
    SupervisionForm.joint: "联合督办", SupervisionForm.listed: "挂牌督办",
}


class Supervision(TimestampMixin, Base):
    """A 督办 issued on a case. Automatic ones name their deadline, and (deadline, level) is UNIQUE: each level
    is sent once per deadline, whatever the scheduler does. Manual ones (by a leader) may name none."""

    __tablename__ = "case_supervisions"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("deadline_id", "level", name="level_once_per_deadline"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("case_deadlines.id"))
    level: Mapped[int] = mapped_column(Integer)
    form: Mapped[SupervisionForm] = mapped_column(enum_column(SupervisionForm, "supervision_form"))
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: level 2: the new deadline set by the 督办通知书; level 3 fires when it passes unmet
    new_due_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    #: the unit the 督办 was addressed to (the handling unit at the time)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))

    deadline: Mapped[Deadline | None] = relationship()
    unit: Mapped[OrgUnit] = relationship()

    def __repr__(self) -> str:
        return f"<Supervision {self.id} case {self.case_id} level {self.level}>"
