"""Working a case: answer documents and their service records, mediation sessions, the one extension and
督办 records. Department assignments (dispatch, rotating queue, on-call summons) are in center.departments.models.

Every row belongs to one case and is never deleted: a replaced draft keeps its row, so the case page can show
the whole history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import LabelledEnum, enum_column
from core.org.models import Department, OrgUnit

if TYPE_CHECKING:
    from center.cases.models.case import Case, Deadline


# --- documents and service -----------------------------------------------------------------------------

class DocumentKind(LabelledEnum):
    answer = "answer", "答复意见书"                    # 答复意见书 / 信访处理意见书
    not_accepted = "not_accepted", "不予受理通知书"        # 不予受理通知书
    acceptance = "acceptance", "受理告知书"            # 受理告知书
    extension = "extension", "延期告知书"              # 延期告知书
    review_opinion = "review_opinion", "复查意见书"    # 复查意见书
    supervision = "supervision", "督办通知书"          # 督办通知书
    agreement = "agreement", "调解协议书"              # 调解协议书


DOCUMENT_KIND_LABELS = DocumentKind.labels()


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


class ServiceMethod(LabelledEnum):
    direct = "direct", "直接送达"                    # 直接送达 (receipt signed)
    registered_mail = "registered_mail", "邮寄送达（挂号/EMS）"  # 挂号信/EMS
    electronic = "electronic", "电子送达"            # 网上信访系统/短信
    entrusted = "entrusted", "委托送达"              # 委托送达 (e.g. through the village)


SERVICE_METHOD_LABELS = ServiceMethod.labels()


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

class MediationType(LabelledEnum):
    people = "people", "人民调解"                  # 人民调解
    administrative = "administrative", "行政调解"  # 行政调解
    judicial = "judicial", "司法调解"              # 司法调解


class MediationOutcome(LabelledEnum):
    success = "success", "调解成功"   # 调解成功 (调解协议书)
    failure = "failure", "调解不成"   # 调解不成 (guided to litigation)


MEDIATION_TYPE_LABELS = MediationType.labels()
MEDIATION_OUTCOME_LABELS = MediationOutcome.labels()


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


class SupervisionForm(LabelledEnum):
    reminder = "reminder", "系统提醒"      # system reminder (level 1)
    notice = "notice", "督办通知书"          # 督办通知书 / 催办
    phone = "phone", "电话督办"
    letter = "letter", "函件督办"
    interview = "interview", "约谈"    # 约谈
    on_site = "on_site", "现场督办"
    joint = "joint", "联合督办"            # 联合督办
    listed = "listed", "挂牌督办"          # 挂牌督办


SUPERVISION_LEVEL_LABELS = {1: "提醒", 2: "督办通知", 3: "挂牌督办"}
SUPERVISION_FORM_LABELS = SupervisionForm.labels()


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
