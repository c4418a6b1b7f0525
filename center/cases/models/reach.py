"""The registry's scope table: who reaches a case, as rows an index answers by equality.

One row per (way in, case): ``kind`` says which way and ``ref_id`` whose — a unit (every ancestor of the
case's origin and handling units, the unit itself included), a department (the handling department and every
department with a live assignment), a person (the assignee and the owner leader, 包案) and the filer. An
actor's sight is the union of its ways in (center.cases.reach.arms), so a list is a few index ranges of
(kind, ref_id, done, received_at) instead of OR-ed path ranges over joined units no index serves.

The case's list-relevant facts ride along on each row (status, open or done, the next open duty deadline, the
handling unit, the accused unit of a 检举控告 case) so queue and list counts are index-only. The rows are
derived data: center.cases.reach keeps them in step on every flush that touches a case, a deadline or an
assignment, and ``rebuild`` recomputes them (a test compares the two).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

__all__ = ["REACH_DEPARTMENT", "REACH_FILER", "REACH_PERSON", "REACH_UNIT", "CaseReach"]

REACH_UNIT = 1
REACH_DEPARTMENT = 2
#: the assignee (承办人) and the owner leader (包案领导)
REACH_PERSON = 3
#: who filed it: keeps sight of it whatever else hides it (the 检举控告 rule's one exception)
REACH_FILER = 4


class CaseReach(Base):
    __tablename__ = "case_reach"
    __table_args__ = (
        # One page of a list: open first, newest first, inside one way in.
        Index("ix_case_reach_list", "kind", "ref_id", "done", "received_at", "case_id", "accused_unit_id"),
        # The queue counts, index-only: status ranges inside one way in, with what the queues read.
        Index("ix_case_reach_queue", "kind", "ref_id", "status", "done", "next_due_on", "next_started_on",
              "handling_unit_id", "accused_unit_id", "case_id"),
        Index("ix_case_reach_case", "case_id", "kind", "ref_id"),
    )

    kind: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    ref_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    done: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(24))
    case_kind: Mapped[str] = mapped_column(String(24))
    handling_unit_id: Mapped[int] = mapped_column(Integer)
    #: the accused unit of a 检举控告 case; None for every other case
    accused_unit_id: Mapped[int | None] = mapped_column(Integer)
    #: the next open duty deadline (earliest due, then lowest id), as every list shows it
    next_due_on: Mapped[date | None] = mapped_column(Date)
    next_started_on: Mapped[date | None] = mapped_column(Date)
