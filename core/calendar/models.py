"""The holiday table: one row per day that differs from the weekend rule, and one row per year saying
whether that year's official arrangement (国务院办公厅 notice, published each November or December) has
been entered.

A year without a published row is computed provisionally (core.calendar.provisional); rows entered for it
are a draft, shown to the administrator and used only once the year is published.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TimestampMixin, UTCDateTime
from core.enums import LabelledEnum, enum_column


class DayKind(LabelledEnum):
    #: a statutory rest day (法定节假日, including the weekend days inside a holiday span)
    holiday = "holiday", "节假日"
    #: a make-up working day on a weekend (调休上班)
    workday = "workday", "调休上班"


DAY_KIND_LABELS = DayKind.labels()


class CalendarSource(LabelledEnum):
    chinese_calendar = "chinese-calendar", "chinese-calendar 数据包"
    admin = "admin", "管理员录入"


SOURCE_LABELS = CalendarSource.labels()


class CalendarDay(TimestampMixin, Base):
    __tablename__ = "calendar_days"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[DayKind] = mapped_column(enum_column(DayKind, "calendar_day_kind"))
    #: the festival, e.g. 春节; for a make-up working day the festival it makes up for
    name: Mapped[str] = mapped_column(String(64))
    source: Mapped[CalendarSource] = mapped_column(enum_column(CalendarSource, "calendar_source"))

    @property
    def year(self) -> int:
        return self.day.year

    @property
    def kind_label(self) -> str:
        return DAY_KIND_LABELS[self.kind]

    def __repr__(self) -> str:
        return f"<CalendarDay {self.day} {self.kind} {self.name}>"


class CalendarYear(TimestampMixin, Base):
    __tablename__ = "calendar_years"
    __audited__ = True

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: the official arrangement for this year has been entered completely
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[CalendarSource] = mapped_column(enum_column(CalendarSource, "calendar_source"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a new random value on every change of the year's rows or status: processes compare it to know
    #: whether their cached calendar is still current (a counter could repeat after a rollback)
    revision: Mapped[str] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"<CalendarYear {self.year} {'published' if self.published else 'draft'}>"
