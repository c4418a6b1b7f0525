"""JobRun: one row per fire of a scheduled job, claimed before the job runs.

``UNIQUE(job, fire_time)`` is what makes a fire run once: the scheduler inserts the row in its own committed
transaction first, and a process that finds the fire already claimed skips it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow
from core.enums import enum_column


class JobOutcome(StrEnum):
    running = "running"
    ok = "ok"
    failed = "failed"


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "fire_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Registered job name, e.g. "cases.deadline_reminders".
    job: Mapped[str] = mapped_column(String(64))
    #: The scheduled fire time (UTC, whole seconds), not when it actually started.
    fire_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[JobOutcome] = mapped_column(enum_column(JobOutcome, "job_outcome"),
                                                default=JobOutcome.running)
    #: Exception type and message of a failed run, truncated (never personal data by convention of jobs).
    error: Mapped[str | None] = mapped_column(Text)
    #: host:pid of the process that claimed the fire.
    runner: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<JobRun {self.id} {self.job} {self.fire_time:%Y-%m-%d %H:%M:%S} {self.outcome}>"
