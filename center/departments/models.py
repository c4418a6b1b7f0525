"""Department assignments (DOMAIN.md §2): a case dispatched to a resident department, queued for a rotating one
until its turn on duty, or an on-call one summoned to arrive by a set time (联合调处).

Every row belongs to one case and is never deleted: a withdrawn assignment keeps its row, so the case page
can show the whole history. The case side keeps ``Case.assignments`` (center.cases.models.case), and
``center.cases.models`` re-exports these names for the modules that cannot be edited here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from core.enums import LabelledEnum, enum_column
from core.org.models import Department

if TYPE_CHECKING:
    from center.cases.models.case import Case


class AssignmentStatus(LabelledEnum):
    #: rotating department not on duty now: waits in its queue and is worked when its turn comes
    queued = "queued", "排队待办"
    #: on-call department summoned: must acknowledge and arrive by ``arrive_by``
    summoned = "summoned", "已召集"
    acknowledged = "acknowledged", "已响应"
    #: working the case (resident at once; rotating on duty; on-call once arrived)
    active = "active", "办理中"
    done = "done", "已完成"
    withdrawn = "withdrawn", "已撤回"


ASSIGNMENT_STATUS_LABELS = AssignmentStatus.labels()
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
