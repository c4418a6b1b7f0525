"""Provisional statutory holidays for a year whose official arrangement is not published yet.

《全国年节及纪念日放假办法》 (revised 2024-11-10, in force 2025-01-01) fixes the days themselves; the State
Council's yearly notice only adds the bridging days and the 调休 make-up working days. So for an unpublished
year we take the fixed days and no 调休:

    元旦 Jan 1 · 春节 除夕 and 正月初一–初三 · 清明 the day of the 清明 solar term · 劳动节 May 1–2 ·
    端午 5th day of the 5th lunar month · 中秋 15th day of the 8th lunar month · 国庆 Oct 1–3

Lunar dates come from the `lunardate` package (pure Python, table-driven, 1900–2099); the 清明 solar term
from `chinese_calendar.get_solar_terms`. Both were checked against the astronomical computation of
`lunar-python` 1.4.8 for every year 2025–2099 (no difference), and the 2027 values against the published
almanac: 除夕 2027-02-05, 正月初一 2027-02-06, 清明 2027-04-05, 端午 2027-06-09, 中秋 2027-09-15.

A year outside what the packages cover raises ProvisionalUnavailable: an unknown year is never treated as
having no holidays.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

#: Years the lunar table covers (lunardate's own range).
FIRST_YEAR = 1901
LAST_YEAR = 2099


class ProvisionalUnavailable(ValueError):
    """No provisional holidays can be computed for this year."""

    def __init__(self, year: int):
        super().__init__(f"{year} 年不在可推算农历节日的范围（{FIRST_YEAR}–{LAST_YEAR}）内")
        self.year = year


def _lunar(year: int, month: int, day: int) -> date:
    from lunardate import LunarDate

    return LunarDate(year, month, day).to_solar_date()


def _qingming(year: int) -> date:
    from chinese_calendar import get_solar_terms

    found = [d for d, name in get_solar_terms(date(year, 4, 1), date(year, 4, 10)) if name == "清明"]
    if len(found) != 1:  # pragma: no cover - the formula always gives one day in Apr 4–6
        raise ProvisionalUnavailable(year)
    return found[0]


@functools.lru_cache(maxsize=256)
def fixed_holidays(year: int) -> dict[date, str]:
    """The statutory rest days the law fixes for ``year``: {day: festival name}."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ProvisionalUnavailable(year)
    days: dict[date, str] = {}

    def add(day: date, name: str) -> None:
        # 中秋 can fall on 国庆 (2031-10-01): keep both names on the one day
        days[day] = f"{days[day]}、{name}" if day in days and name not in days[day] else name

    add(date(year, 1, 1), "元旦")
    spring = _lunar(year, 1, 1)
    for offset in range(-1, 3):  # 除夕, 正月初一–初三
        add(spring + timedelta(days=offset), "春节")
    add(_qingming(year), "清明节")
    add(date(year, 5, 1), "劳动节")
    add(date(year, 5, 2), "劳动节")
    add(_lunar(year, 5, 5), "端午节")
    add(_lunar(year, 8, 15), "中秋节")
    for day in (1, 2, 3):
        add(date(year, 10, day), "国庆节")
    return dict(sorted(days.items()))
