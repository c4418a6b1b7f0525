"""Working days: the holiday table (seeded from chinese-calendar, edited by the administrator), the
provisional rules for unpublished years, and the day arithmetic of the statutory clock.

What other packages call::

    from core.calendar import load_calendar, Due
    cal = load_calendar()                     # cached snapshot; cheap to call per request or job
    due = cal.add_calendar_days(received_on, 15)   # Due(date, provisional)
    due = cal.add_working_days(received_on, 20)
    cal.working_days_between(today, due.date)
    cal.is_working_day(d); cal.next_working_day(d)

and ``core.hooks.holiday_change_handlers`` to hear which years changed.
"""

from __future__ import annotations

from datetime import date, datetime

from core.calendar.days import SHANGHAI, DayInfo, Due, WorkCalendar

__all__ = ["Due", "DayInfo", "WorkCalendar", "load_calendar", "init_app", "today_in_shanghai",
           "banner_messages", "seed_from_chinese_calendar"]


def load_calendar() -> WorkCalendar:
    from core.calendar.queries import load_calendar as _load

    return _load()


def seed_from_chinese_calendar(actor) -> list[int]:
    from core.calendar.operations import seed_from_chinese_calendar as _seed

    return _seed(actor)


def today_in_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


def banner_messages(today: date) -> list[tuple[str, str]]:
    """Standing alerts for this year and the next one when their official table is not published."""
    from core.calendar.queries import published_years

    years = [today.year, today.year + 1]
    published = published_years(years)
    return [("warning", f"{year} 年法定节假日安排尚未录入，涉及 {year} 年的期限按暂定规则计算")
            for year in years if year not in published]


def _banner(actor) -> list[tuple[str, str]]:
    from core.auth.permissions import has_permission

    if actor.is_system or not has_permission(actor, "calendar.manage"):
        return []
    return banner_messages(today_in_shanghai())


def _demo_seeder(actor, context) -> None:
    seed_from_chinese_calendar(actor)


def init_app(app) -> None:
    from core import hooks
    from core.calendar import cli, permissions, views

    permissions.init_app(app)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.calendar_cli)
    hooks.register_demo_seeder("calendar", _demo_seeder)
    hooks.register_admin_link("calendar.manage", "节假日", "calendar.index")
    hooks.register_banner(_banner)
