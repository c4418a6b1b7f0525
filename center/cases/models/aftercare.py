"""After the answer: evaluations, follow-up visits (回访), 复查/复核 reviews; and attachments of any step.

A review is a linked stage of the same case handled one level up — by a unit on the platform, or by an organ
outside it, recorded by name, dates and reference — so the clock and the timeline stay in one record.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import LabelledEnum, enum_column
from core.org.models import OrgUnit

if TYPE_CHECKING:
    from center.cases.models.case import Case


class EvaluationStage(LabelledEnum):
    acceptance = "acceptance", "对受理"   # 对受理的评价
    result = "result", "对办理结果"           # 对办理结果的评价


class Rating(LabelledEnum):
    satisfied = "satisfied", "满意"
    basically = "basically", "基本满意"
    unsatisfied = "unsatisfied", "不满意"


class EvaluationSource(LabelledEnum):
    staff = "staff", "工作人员记录"            # recorded by staff (phone, visit to the center)
    follow_up = "follow_up", "回访记录"    # on a grid worker's or cadre's follow-up visit
    petitioner = "petitioner", "信访人自评"  # the petitioner online


EVALUATION_STAGE_LABELS = EvaluationStage.labels()
RATING_LABELS = Rating.labels()
EVALUATION_SOURCE_LABELS = EvaluationSource.labels()


class Evaluation(TimestampMixin, Base):
    __tablename__ = "case_evaluations"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[EvaluationStage] = mapped_column(enum_column(EvaluationStage, "evaluation_stage"))
    rating: Mapped[Rating] = mapped_column(enum_column(Rating, "evaluation_rating"))
    source: Mapped[EvaluationSource] = mapped_column(enum_column(EvaluationSource, "evaluation_source"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("case_follow_ups.id"))

    def __repr__(self) -> str:
        return f"<Evaluation {self.id} case {self.case_id} {self.stage} {self.rating}>"


class VisitMethod(LabelledEnum):
    home = "home", "入户回访"        # 入户
    phone = "phone", "电话回访"
    wechat = "wechat", "微信回访"
    at_center = "at_center", "来访回访"


VISIT_METHOD_LABELS = VisitMethod.labels()


class FollowUpVisit(TimestampMixin, Base):
    """回访 number ``seq`` (1, 2 … up to CASE_FOLLOW_UP_VISITS, two where the county requires 双回访)."""

    __tablename__ = "case_follow_ups"
    __audited__ = True
    __table_args__ = (UniqueConstraint("case_id", "seq", name="one_per_seq"),
                      CheckConstraint("seq >= 1", name="seq_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[VisitMethod] = mapped_column(enum_column(VisitMethod, "visit_method"))
    notes: Mapped[str] = mapped_column(Text)
    visitor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<FollowUpVisit {self.id} case {self.case_id} #{self.seq}>"


class ReviewLevel(LabelledEnum):
    review = "review", "复查"          # 复查
    re_review = "re_review", "复核"    # 复核


class ReviewDecision(LabelledEnum):
    upheld = "upheld", "维持原处理意见"      # 维持
    changed = "changed", "变更原处理意见"    # 变更
    revoked = "revoked", "撤销，责成重新办理"    # 撤销/重新办理


REVIEW_LEVEL_LABELS = ReviewLevel.labels()
REVIEW_DECISION_LABELS = ReviewDecision.labels()


class Review(TimestampMixin, Base):
    """A 复查 or 复核 stage. Exactly one of ``organ_unit_id`` (on the platform) or ``external_organ``."""

    __tablename__ = "case_reviews"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("case_id", "level", name="one_per_level"),
        CheckConstraint("(organ_unit_id IS NULL) <> (external_organ IS NULL)", name="one_organ"),
        CheckConstraint("decided_on IS NULL OR decided_on >= requested_on", name="decided_after_request"),
        CheckConstraint("(decided_on IS NULL) = (decision IS NULL)", name="decision_with_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    level: Mapped[ReviewLevel] = mapped_column(enum_column(ReviewLevel, "review_level"))
    requested_on: Mapped[date] = mapped_column(Date)
    organ_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    external_organ: Mapped[str | None] = mapped_column(String(100))
    external_reference: Mapped[str | None] = mapped_column(String(64))
    decided_on: Mapped[date | None] = mapped_column(Date)
    decision: Mapped[ReviewDecision | None] = mapped_column(enum_column(ReviewDecision, "review_decision"))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship()
    organ_unit: Mapped[OrgUnit | None] = relationship()

    @property
    def organ_name(self) -> str:
        return self.organ_unit.name if self.organ_unit is not None else (self.external_organ or "")

    def __repr__(self) -> str:
        return f"<Review {self.id} case {self.case_id} {self.level} {self.decision}>"


class Attachment(TimestampMixin, Base):
    """A file on a case: stored outside the web root under ``storage_key`` (content-addressed), its type
    checked by content, photos re-encoded without EXIF/GPS. Served only through the case's scoped query."""

    __tablename__ = "case_attachments"
    __audited__ = True
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: what it documents: photo, agreement, consent (委托书), receipt, other
    purpose: Mapped[str] = mapped_column(String(24), default="other")

    case: Mapped[Case] = relationship()

    def __repr__(self) -> str:
        return f"<Attachment {self.id} case {self.case_id} {self.content_type} {self.size}>"
