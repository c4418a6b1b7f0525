"""Reads of the holiday table. The table is national reference data (no jurisdiction), so nothing here
is scoped; the pages require calendar.manage and the arithmetic is open to every caller."""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import select

from core.calendar.days import WorkCalendar
from core.calendar.models import CalendarDay, CalendarYear, DayKind
from core.db import db

_cache_lock = threading.Lock()
_cached: tuple[tuple, WorkCalendar] | None = None


def _revision_key() -> tuple:
    rows = db.session.execute(select(CalendarYear.year, CalendarYear.published, CalendarYear.revision)
                              .order_by(CalendarYear.year))
    return tuple(tuple(r) for r in rows)


def load_calendar() -> WorkCalendar:
    """The current calendar. One small query checks the per-year revisions; the rows are read again only
    when a year changed (in this process or another), so callers may call this as often as they like."""
    global _cached
    key = _revision_key()
    with _cache_lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
    published = {year for year, is_published, _rev in key if is_published}
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    if published:
        rows = db.session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name))
        for day, kind, name in rows:
            if day.year in published:
                (holidays if kind == DayKind.holiday else workdays)[day] = name
    calendar = WorkCalendar(holidays=holidays, workdays=workdays, published_years=published)
    with _cache_lock:
        _cached = (key, calendar)
    return calendar


def clear_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def get_year(year: int) -> CalendarYear | None:
    return db.session.get(CalendarYear, year)


def list_years() -> list[CalendarYear]:
    return list(db.session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc())))


def published_years(years) -> set[int]:
    years = list(years)
    if not years:
        return set()
    stmt = select(CalendarYear.year).where(CalendarYear.year.in_(years), CalendarYear.published.is_(True))
    return set(db.session.scalars(stmt))


def days_in_year(year: int) -> list[CalendarDay]:
    stmt = (select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            .order_by(CalendarDay.day))
    return list(db.session.scalars(stmt))


def get_day(day: date) -> CalendarDay | None:
    return db.session.scalar(select(CalendarDay).where(CalendarDay.day == day))


def day_counts() -> dict[int, tuple[int, int]]:
    """{year: (holiday rows, make-up working day rows)} for the years list."""
    out: dict[int, list[int]] = {}
    for day, kind in db.session.execute(select(CalendarDay.day, CalendarDay.kind)):
        counts = out.setdefault(day.year, [0, 0])
        counts[0 if kind == DayKind.holiday else 1] += 1
    return {y: (c[0], c[1]) for y, c in out.items()}
