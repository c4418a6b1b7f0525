"""Shared helpers and fixtures of the working-day calendar tests."""

from __future__ import annotations

import re
from datetime import date

import chinese_calendar
import pytest
from sqlalchemy import func, select

from core import hooks
from core.audit.models import AuditEntry
from core.calendar import WorkCalendar
from core.calendar.models import CalendarDay, CalendarYear
from tests.conftest import csrf_from, login

D = date.fromisoformat
PACKAGE_YEARS = range(2004, 2027)  # what chinese-calendar 1.11.0 covers
BANNER_2027 = "2027 年法定节假日安排尚未录入，涉及 2027 年的期限按暂定规则计算"


# --- helpers -------------------------------------------------------------------------------------------------


def package_calendar() -> WorkCalendar:
    """The same arithmetic built straight from the package, without the database (for the property test)."""
    return WorkCalendar(holidays={d: "假" for d in chinese_calendar.holidays},
                        workdays={d: "班" for d in chinese_calendar.workdays}, published_years=PACKAGE_YEARS)


@pytest.fixture()
def admin(demo):
    return demo.actor("admin")


@pytest.fixture()
def changes():
    """Records every call of the holiday-change hook during the test."""
    calls: list[set[int]] = []

    def handler(years):
        calls.append(set(years))

    hooks.holiday_change_handlers.append(handler)
    try:
        yield calls
    finally:
        hooks.holiday_change_handlers.remove(handler)


def client_for(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def post(client, url, data):
    token = csrf_from(client.get("/account").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def text(response) -> str:
    return response.get_data(as_text=True)


def table_state(db) -> tuple:
    days = db.session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
                              .order_by(CalendarDay.day)).all()
    years = db.session.execute(select(CalendarYear.year, CalendarYear.published, CalendarYear.revision)
                               .order_by(CalendarYear.year)).all()
    audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("calendar.%")))
    return tuple(days), tuple(years), audits


def cell_class(html: str, day: date) -> str:
    """The CSS classes of the month-grid cell linking to ``day``."""
    match = re.search(r'<td class="([^"]*)">\s*<a href="/admin/calendar/day\?date=' + day.isoformat() + '"', html)
    assert match, f"no grid cell for {day}"
    return match.group(1)

