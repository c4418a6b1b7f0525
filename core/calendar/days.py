"""Day arithmetic for statutory and local deadlines: pure functions over a loaded calendar snapshot.

Rules (DOMAIN.md §2, §7):

* A period in days starts on the day after the triggering event (民法典 Art. 201: the first day is not
  counted); the deadline is the end of its last day (Art. 203, 24:00 Asia/Shanghai).
* A last day that is a rest day — a weekend or a statutory holiday, but not a 调休 make-up working day —
  moves to the next working day (Art. 203).
* Local rules may count working days instead (e.g. 首问负责 20 working days).
* A year whose official arrangement is not published counts with the provisional fixed holidays and no 调休
  (core.calendar.provisional); every result that depended on such a year is marked provisional.

``WorkCalendar`` is built once from the holiday table (``core.calendar.queries.load_calendar``) or, in tests,
straight from dicts; it never touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.calendar import provisional

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONE_DAY = timedelta(days=1)
#: A run of rest days never lasts longer than this; a longer walk means a broken table.
MAX_REST_RUN = 60


@dataclass(frozen=True)
class Due:
    """The last day of a period, and whether it was computed from a year without a published table."""

    date: date
    provisional: bool

    @property
    def ends_at(self) -> datetime:
        """The deadline instant (exclusive): 00:00 Asia/Shanghai after the last day, as an aware datetime."""
        return datetime.combine(self.date + ONE_DAY, time(0), tzinfo=SHANGHAI)


@dataclass(frozen=True)
class DayInfo:
    """What a day is, for display: kind ∈ workday | weekend | holiday | makeup (调休上班)."""

    date: date
    kind: str
    name: str
    provisional: bool

    @property
    def is_rest(self) -> bool:
        return self.kind in ("weekend", "holiday")


class WorkCalendar:
    """A snapshot of the holiday table.

    ``holidays`` and ``workdays`` hold the rows of published years (rows of unpublished years are drafts and
    must not be passed in); ``published_years`` lists the years whose official table is entered. Any other
    year uses ``provisional_holidays(year)``.
    """

    def __init__(self, *, holidays: Mapping[date, str], workdays: Mapping[date, str],
                 published_years: Iterable[int],
                 provisional_holidays: Callable[[int], Mapping[date, str]] = provisional.fixed_holidays):
        self.published_years = frozenset(published_years)
        self._holidays = {d: n for d, n in holidays.items() if d.year in self.published_years}
        self._workdays = {d: n for d, n in workdays.items() if d.year in self.published_years}
        self._provisional_holidays = provisional_holidays

    def __repr__(self) -> str:
        years = sorted(self.published_years)
        span = f"{years[0]}–{years[-1]}" if years else "none"
        return f"<WorkCalendar published {span} ({len(years)} years)>"

    # --- single days ------------------------------------------------------------------------------------

    def is_published(self, year: int) -> bool:
        return year in self.published_years

    def is_provisional(self, day: date) -> bool:
        return day.year not in self.published_years

    def holiday_name(self, day: date) -> str | None:
        if day.year in self.published_years:
            return self._holidays.get(day)
        return self._provisional_holidays(day.year).get(day)

    def is_makeup_workday(self, day: date) -> bool:
        """A 调休 weekend day worked in exchange for a holiday (only published years have them)."""
        return day in self._workdays

    def is_rest_day(self, day: date) -> bool:
        if day.year in self.published_years:
            if day in self._holidays:
                return True
            return day.weekday() >= 5 and day not in self._workdays
        return day.weekday() >= 5 or day in self._provisional_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return not self.is_rest_day(day)

    def day_info(self, day: date) -> DayInfo:
        prov = self.is_provisional(day)
        name = self.holiday_name(day)
        if name is not None:
            return DayInfo(day, "holiday", name, prov)
        if day in self._workdays:
            return DayInfo(day, "makeup", self._workdays[day], prov)
        if day.weekday() >= 5:
            return DayInfo(day, "weekend", "", prov)
        return DayInfo(day, "workday", "", prov)

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        for _ in range(MAX_REST_RUN):
            if self.is_working_day(day):
                return day
            day += ONE_DAY
        raise ValueError(f"no working day within {MAX_REST_RUN} days of {day}: the holiday table is broken")

    def span_is_provisional(self, first: date, last: date) -> bool:
        """Does any day from ``first`` to ``last`` (inclusive, either order) lie in an unpublished year?"""
        lo, hi = min(first, last), max(first, last)
        return any(y not in self.published_years for y in range(lo.year, hi.year + 1))

    # --- periods ------------------------------------------------------------------------------------------

    def add_calendar_days(self, event_date: date, n: int) -> Due:
        """The last day of a period of ``n`` calendar days after ``event_date`` (Art. 201, 203)."""
        _check_n(n)
        due = self.next_working_day(event_date + timedelta(days=n))
        return Due(due, self.span_is_provisional(event_date + ONE_DAY, due))

    def add_working_days(self, event_date: date, n: int) -> Due:
        """The ``n``-th working day after ``event_date`` (the event day itself is not counted)."""
        _check_n(n)
        day, counted, walked = event_date, 0, 0
        while counted < n:
            day += ONE_DAY
            walked += 1
            if self.is_working_day(day):
                counted += 1
            elif walked > n + MAX_REST_RUN * (1 + n // 5):  # pragma: no cover - only a broken table
                raise ValueError("too few working days: the holiday table is broken")
        return Due(day, self.span_is_provisional(event_date + ONE_DAY, day))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``.

        ``working_days_between(e, add_working_days(e, n).date) == n``: "days left" on a working-day clock.
        """
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a period needs a whole number of days ≥ 1, got {n!r}")
