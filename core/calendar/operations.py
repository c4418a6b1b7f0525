"""Holiday table writes: set a day, publish a year, seed from the chinese-calendar package.

Every change bumps the year's revision (so every process reloads its cached calendar), writes an audit row
and then calls each ``core.hooks.holiday_change_handlers`` entry with the set of changed years, inside the
caller's transaction: center/cases recomputes its provisional deadlines there and the whole change commits
or rolls back as one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date

from core import hooks
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.calendar import queries
from core.calendar.models import CalendarDay, CalendarSource, CalendarYear, DayKind
from core.db import db, utcnow
from core.errors import ValidationFailed

logger = logging.getLogger(__name__)

#: Years an administrator may edit (the lunar table behind the provisional rules ends in 2099).
MIN_YEAR = 2000
MAX_YEAR = 2099
#: "normal" clears a day back to the weekend rule.
SET_KINDS = ("holiday", "workday", "normal")
DEFAULT_NAMES = {DayKind.holiday: "节假日", DayKind.workday: "调休上班"}


def _check_year(year: int, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed({field: [f"年份须在 {MIN_YEAR}–{MAX_YEAR} 之间"]})


def _touch_year(year: int, *, source: CalendarSource) -> CalendarYear:
    row = db.session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, published=False, source=source)
        db.session.add(row)
    row.revision = uuid.uuid4().hex
    row.updated_at = utcnow()
    return row


def notify_changed(years) -> None:
    """Tell the registered handlers (center/cases) which years changed; runs in the caller's transaction."""
    changed = frozenset(years)
    if not changed:
        return
    db.session.flush()
    for handler in list(hooks.holiday_change_handlers):
        handler(set(changed))


def set_day(day: date, kind: str, *, actor: Actor, name: str | None = None) -> CalendarDay | None:
    """Mark ``day`` as a statutory holiday, a 调休 make-up working day, or clear it ("normal").

    Returns the row (None after clearing). Setting what is already there changes nothing and calls no one.
    """
    require(actor, "calendar.manage")
    _check_year(day.year, "day")
    if kind not in SET_KINDS:
        raise ValidationFailed({"kind": ["请从列表中选择"]})
    name = (name or "").strip() or None
    existing = queries.get_day(day)
    if kind == "normal":
        if existing is None:
            return None
        db.session.delete(existing)
        _touch_year(day.year, source=CalendarSource.admin)
        record(actor, "calendar.day_cleared", object_type="calendar_days", object_id=day.isoformat(),
               changed=["kind", "name"])
        logger.info("calendar day %s cleared by %s", day, actor)
        notify_changed({day.year})
        return None

    day_kind = DayKind(kind)
    if day_kind == DayKind.workday and day.weekday() < 5:
        raise ValidationFailed({"kind": ["调休上班日只能设在周六或周日（周一至周五本来就是工作日）"]})
    name = name or (existing.name if existing is not None else DEFAULT_NAMES[day_kind])
    if existing is not None and existing.kind == day_kind and existing.name == name:
        return existing
    if existing is None:
        existing = CalendarDay(day=day, kind=day_kind, name=name, source=CalendarSource.admin)
        db.session.add(existing)
    else:
        existing.kind, existing.name, existing.source = day_kind, name, CalendarSource.admin
    _touch_year(day.year, source=CalendarSource.admin)
    db.session.flush()
    record(actor, "calendar.day_set", existing, object_id=day.isoformat(), changed=["kind", "name"])
    logger.info("calendar day %s set to %s by %s", day, day_kind, actor)
    notify_changed({day.year})
    return existing


def publish_year(year: int, *, actor: Actor) -> CalendarYear:
    """Mark ``year``'s official arrangement as entered: from now on its deadlines use the table instead of
    the provisional rules, and the handlers recompute every provisional deadline that touched it."""
    require(actor, "calendar.manage")
    _check_year(year, "year")
    row = db.session.get(CalendarYear, year)
    if row is not None and row.published:
        raise ValidationFailed({"year": [f"{year} 年的节假日安排已发布"]})
    if not any(d.kind == DayKind.holiday for d in queries.days_in_year(year)):
        raise ValidationFailed({"year": [f"{year} 年尚未录入任何节假日：请先按国务院办公厅通知逐日录入，再发布"]})
    row = _touch_year(year, source=CalendarSource.admin)
    row.published = True
    row.published_at = utcnow()
    row.source = CalendarSource.admin
    db.session.flush()
    record(actor, "calendar.year_published", row, object_id=str(year), changed=["published"])
    logger.info("calendar year %s published by %s", year, actor)
    notify_changed({year})
    return row


def seed_from_chinese_calendar(actor: Actor) -> list[int]:
    """Enter every year the chinese-calendar package knows, as published, skipping each year that already
    has a row (an administrator's entries are never overwritten). Returns the years written."""
    import chinese_calendar

    require(actor, "calendar.manage")
    by_year: dict[int, dict[date, tuple[DayKind, str]]] = {}
    for source, kind in ((chinese_calendar.workdays, DayKind.workday), (chinese_calendar.holidays, DayKind.holiday)):
        for day, value in source.items():
            # holidays last: a day listed in both (none today) counts as a holiday
            by_year.setdefault(day.year, {})[day] = (kind, chinese_calendar.Holiday(value).chinese)
    existing = {row.year for row in queries.list_years()}
    years = sorted(y for y in by_year if y not in existing)
    for year in years:
        for day, (kind, name) in sorted(by_year[year].items()):
            db.session.add(CalendarDay(day=day, kind=kind, name=name, source=CalendarSource.chinese_calendar))
        row = _touch_year(year, source=CalendarSource.chinese_calendar)
        row.published, row.published_at = True, utcnow()
    if not years:
        return []
    db.session.flush()
    record(actor, "calendar.seeded", object_type="calendar_years", object_id=f"{years[0]}-{years[-1]}",
           changed=["day", "kind", "name", "published"])
    logger.info("calendar seeded from chinese-calendar %s–%s by %s", years[0], years[-1], actor)
    notify_changed(years)
    return years
