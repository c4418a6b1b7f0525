"""Working days: the holiday table seeded from chinese-calendar, the statutory day counting (民法典 Art. 201,
203) and the provisional rules for a year without a published table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.calendar import Due, WorkCalendar, load_calendar
from core.calendar.models import CalendarDay, CalendarSource, CalendarYear, DayKind
from core.calendar.provisional import ProvisionalUnavailable, fixed_holidays
from tests.core.calendar_support import (
    PACKAGE_YEARS,
    D,
    package_calendar,
)

# --- the seeded table ----------------------------------------------------------------------------------------


def test_demo_load_seeded_every_package_year_as_published(db):
    years = db.session.execute(select(CalendarYear.year, CalendarYear.published, CalendarYear.source)).all()
    assert {y for y, _, _ in years} >= set(PACKAGE_YEARS)
    assert all(published and source == CalendarSource.chinese_calendar
               for y, published, source in years if y in PACKAGE_YEARS)
    assert db.session.get(CalendarYear, 2027) is None
    assert db.session.scalar(select(CalendarDay.name).where(CalendarDay.day == D("2026-10-01"))) == "国庆节"
    assert db.session.scalar(select(CalendarDay.kind).where(CalendarDay.day == D("2026-10-10"))) == DayKind.workday


def test_loaded_calendar_agrees_with_the_package_on_every_day(db):
    cal = load_calendar()
    day = date(2004, 1, 1)
    disagree = []
    while day <= date(2026, 12, 31):
        if cal.is_working_day(day) != chinese_calendar.is_workday(day):
            disagree.append(day)
        day += timedelta(days=1)
    assert not disagree, disagree[:10]


# --- counting calendar days (民法典 Art. 201, 203) --------------------------------------------------------------

CALENDAR_CASES = [
    # (event, n, due, why)
    ("2026-09-20", 15, "2026-10-08", "last day 10-05 inside 国庆 (10-01..10-07): next working day"),
    ("2026-09-25", 15, "2026-10-10", "last day is the 调休 Saturday 10-10: stays"),
    ("2026-01-30", 15, "2026-02-14", "last day is the 调休 Saturday 02-14: stays"),
    ("2026-03-06", 15, "2026-03-23", "last day an ordinary Saturday: Monday"),
    ("2026-02-01", 15, "2026-02-24", "last day 02-16 inside 春节 (02-15..02-23)"),
    ("2026-08-10", 60, "2026-10-09", "60 days ending on a working Friday"),
    ("2026-04-05", 30, "2026-05-06", "30 days ending on 05-05, the last day of 劳动节"),
    ("2026-11-01", 60, "2026-12-31", "ends on the last day of a published year: not provisional"),
    ("2026-03-31", 1, "2026-04-01", "one day: the day after"),
]


@pytest.mark.parametrize(("event", "n", "due", "why"), CALENDAR_CASES, ids=[c[0] + f"+{c[1]}" for c in CALENDAR_CASES])
def test_calendar_days_in_published_2026(db, event, n, due, why):
    assert load_calendar().add_calendar_days(D(event), n) == Due(D(due), False), why


def test_a_period_reaching_into_2027_is_provisional(db):
    cal = load_calendar()
    # 2027-01-01 (元旦, provisional) → Sat, Sun → Monday 01-04
    assert cal.add_calendar_days(D("2026-12-17"), 15) == Due(D("2027-01-04"), True)
    assert cal.add_calendar_days(D("2026-12-20"), 15) == Due(D("2027-01-04"), True)
    assert cal.add_calendar_days(D("2026-12-01"), 30) == Due(D("2026-12-31"), False)


def test_the_deadline_is_the_end_of_the_last_day_in_shanghai():
    due = Due(D("2026-10-08"), False)
    assert due.ends_at.astimezone(UTC) == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)
    assert due.ends_at.date() == D("2026-10-09")


def test_periods_need_a_positive_whole_number_of_days():
    cal = package_calendar()
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ValueError):
            cal.add_calendar_days(D("2026-05-01"), bad)
        with pytest.raises(ValueError):
            cal.add_working_days(D("2026-05-01"), bad)


# --- counting working days (local rules) -----------------------------------------------------------------------


WORKING_CASES = [
    ("2026-09-28", 20, "2026-10-30", "国庆 skipped, the 调休 Saturday 10-10 counted"),
    ("2026-09-18", 1, "2026-09-20", "Friday + 1: the 调休 Sunday 09-20 is the first working day"),
    ("2026-02-13", 2, "2026-02-24", "Friday + 2: 调休 Saturday 02-14, then 春节 until 02-23"),
    ("2026-06-18", 1, "2026-06-22", "端午 06-19..06-21 skipped"),
]


@pytest.mark.parametrize(("event", "n", "due", "why"), WORKING_CASES, ids=[c[0] + f"+{c[1]}" for c in WORKING_CASES])
def test_working_days_in_published_2026(db, event, n, due, why):
    cal = load_calendar()
    result = cal.add_working_days(D(event), n)
    assert result == Due(D(due), False), why
    assert cal.working_days_between(D(event), result.date) == n
    assert cal.working_days_between(result.date, D(event)) == -n


def test_working_days_match_the_package_over_2026(db):
    cal = load_calendar()
    start = D("2026-01-01")
    expected = [d for d in (start + timedelta(days=i) for i in range(1, 365)) if chinese_calendar.is_workday(d)]
    assert cal.working_days_between(start, D("2026-12-31")) == len(expected)
    assert cal.add_working_days(start, 100).date == expected[99]


# --- provisional 2027 ----------------------------------------------------------------------------------------


def test_provisional_2027_holidays_are_the_fixed_statutory_days():
    assert fixed_holidays(2027) == {
        D("2027-01-01"): "元旦",
        D("2027-02-05"): "春节", D("2027-02-06"): "春节", D("2027-02-07"): "春节", D("2027-02-08"): "春节",
        D("2027-04-05"): "清明节",
        D("2027-05-01"): "劳动节", D("2027-05-02"): "劳动节",
        D("2027-06-09"): "端午节",
        D("2027-09-15"): "中秋节",
        D("2027-10-01"): "国庆节", D("2027-10-02"): "国庆节", D("2027-10-03"): "国庆节",
    }


def test_lunar_festivals_of_later_years():
    spring = {2028: "2028-01-26", 2030: "2030-02-03", 2033: "2033-01-31", 2035: "2035-02-08"}
    for year, day in spring.items():
        first = D(day)
        assert all(fixed_holidays(year)[first + timedelta(days=k)] == "春节" for k in (-1, 0, 1, 2)), year
    assert fixed_holidays(2031)[D("2031-10-01")] == "中秋节、国庆节"  # 中秋 on 国庆: one day, both names


PROVISIONAL_CASES = [
    ("2027-01-20", 15, "2027-02-04", "a Thursday before 除夕"),
    ("2027-01-21", 15, "2027-02-09", "除夕 02-05 → weekend → 初三 02-08 → Tuesday"),
    ("2027-03-21", 15, "2027-04-06", "清明 Monday 04-05"),
    ("2027-04-16", 15, "2027-05-03", "劳动节 on a weekend; no 调休 assumed"),
    ("2027-05-25", 15, "2027-06-10", "端午 06-09"),
    ("2027-08-31", 15, "2027-09-16", "中秋 09-15"),
    ("2027-09-16", 15, "2027-10-04", "国庆 10-01..03"),
    ("2027-02-20", 15, "2027-03-08", "a plain Saturday 03-07 → Monday"),
]


@pytest.mark.parametrize(("event", "n", "due", "why"), PROVISIONAL_CASES, ids=[c[0] for c in PROVISIONAL_CASES])
def test_provisional_2027_counting(db, event, n, due, why):
    assert load_calendar().add_calendar_days(D(event), n) == Due(D(due), True), why


def test_an_unknown_year_never_counts_as_having_no_holidays():
    cal = WorkCalendar(holidays={}, workdays={}, published_years=())
    assert cal.is_rest_day(D("2030-10-01"))  # provisional 国庆 of an unpublished year
    with pytest.raises(ProvisionalUnavailable, match="2100"):
        cal.add_calendar_days(D("2099-12-25"), 15)


# --- property ------------------------------------------------------------------------------------------------

PROPERTY_CAL = package_calendar()


@settings(max_examples=400, deadline=None)
@given(event=st.dates(min_value=date(2004, 1, 1), max_value=date(2031, 12, 31)), n=st.integers(1, 120))
def test_calendar_day_property(event, n):
    due = PROPERTY_CAL.add_calendar_days(event, n)
    assert PROPERTY_CAL.is_working_day(due.date)
    assert due.date >= event + timedelta(days=n)
    day = event + timedelta(days=n)
    while day < due.date:  # moved only across rest days: the *next* working day
        assert PROPERTY_CAL.is_rest_day(day)
        day += timedelta(days=1)
    span = {(event + timedelta(days=k)).year for k in range(1, (due.date - event).days + 1)}
    assert due.provisional == any(y not in PACKAGE_YEARS for y in span)


@settings(max_examples=200, deadline=None)
@given(event=st.dates(min_value=date(2004, 1, 1), max_value=date(2031, 12, 31)), n=st.integers(1, 40))
def test_working_day_property(event, n):
    due = PROPERTY_CAL.add_working_days(event, n)
    assert PROPERTY_CAL.is_working_day(due.date)
    assert due.date >= event + timedelta(days=n)
    assert PROPERTY_CAL.working_days_between(event, due.date) == n
    assert PROPERTY_CAL.working_days_between(event, due.date - timedelta(days=1)) == n - 1
    span = {(event + timedelta(days=k)).year for k in range(1, (due.date - event).days + 1)}
    assert due.provisional == any(y not in PACKAGE_YEARS for y in span)
