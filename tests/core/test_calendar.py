"""Working days: the holiday table seeded from chinese-calendar, the statutory day counting (民法典 Art. 201,
203), the provisional rules for a year without a published table, publishing through the operation, and the
admin pages, their permission and their refusal of bad input."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from core import hooks
from core.actor import Actor
from core.audit.models import AuditEntry
from core.calendar import Due, WorkCalendar, banner_messages, load_calendar, today_in_shanghai
from core.calendar import operations as ops
from core.calendar.models import CalendarDay, CalendarSource, CalendarYear, DayKind
from core.calendar.provisional import ProvisionalUnavailable, fixed_holidays
from core.errors import PermissionDenied, ValidationFailed
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


# --- operations ----------------------------------------------------------------------------------------------


OFFICIAL_2027 = [  # a made-up official arrangement, different from the provisional one
    ("2027-01-01", "holiday", "元旦"),
    *[(f"2027-02-{d:02d}", "holiday", "春节") for d in range(5, 12)],
    ("2027-02-13", "workday", "春节"),
]


def test_publishing_2027_switches_from_the_provisional_rules_and_tells_the_handlers(db, admin, changes):
    before = load_calendar()
    assert before.add_calendar_days(D("2027-01-21"), 15) == Due(D("2027-02-09"), True)
    assert before.add_calendar_days(D("2027-01-29"), 15) == Due(D("2027-02-15"), True)  # 02-13 a plain Saturday

    for day, kind, name in OFFICIAL_2027:
        ops.set_day(D(day), kind, actor=admin, name=name)
    draft = load_calendar()
    assert not draft.is_published(2027)
    assert draft.add_calendar_days(D("2027-01-21"), 15) == Due(D("2027-02-09"), True)  # drafts change nothing yet
    assert changes == [{2027}] * len(OFFICIAL_2027)

    changes.clear()
    row = ops.publish_year(2027, actor=admin)
    db.session.commit()
    assert row.published and row.published_at is not None
    assert changes == [{2027}]
    after = load_calendar()
    assert after.add_calendar_days(D("2027-01-21"), 15) == Due(D("2027-02-12"), False)  # 春节 until 02-11
    assert after.add_calendar_days(D("2027-01-29"), 15) == Due(D("2027-02-13"), False)  # the 调休 Saturday
    assert after.add_calendar_days(D("2027-09-16"), 15) == Due(D("2027-10-01"), False)  # not entered: a workday
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "calendar.year_published",
                                    AuditEntry.object_id == "2027")) == 1

    with pytest.raises(ValidationFailed) as exc:
        ops.publish_year(2027, actor=admin)
    assert "已发布" in exc.value.errors["year"][0]


def test_a_change_to_a_published_year_applies_at_once(db, admin, changes):
    assert load_calendar().add_calendar_days(D("2026-11-01"), 60) == Due(D("2026-12-31"), False)
    ops.set_day(D("2026-12-31"), "holiday", actor=admin, name="测试假日")
    db.session.commit()
    assert load_calendar().add_calendar_days(D("2026-11-01"), 60) == Due(D("2027-01-04"), True)
    assert changes == [{2026}]
    row = db.session.scalar(select(CalendarDay).where(CalendarDay.day == D("2026-12-31")))
    assert (row.kind, row.name, row.source) == (DayKind.holiday, "测试假日", CalendarSource.admin)

    ops.set_day(D("2026-12-31"), "normal", actor=admin)
    db.session.commit()
    assert load_calendar().add_calendar_days(D("2026-11-01"), 60) == Due(D("2026-12-31"), False)
    assert changes == [{2026}, {2026}]
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == "2026-12-31")
                                      .order_by(AuditEntry.id)))
    assert actions == ["calendar.day_set", "calendar.day_cleared"]


def test_setting_what_is_already_there_changes_nothing(db, admin, changes):
    before = table_state(db)
    ops.set_day(D("2026-10-01"), "holiday", actor=admin, name="国庆节")
    ops.set_day(D("2026-10-12"), "normal", actor=admin)  # an ordinary Monday: nothing to clear
    assert table_state(db) == before
    assert changes == []


def test_operations_refuse_bad_days_and_other_users(db, admin, demo, changes):
    before = table_state(db)
    with pytest.raises(ValidationFailed) as exc:
        ops.set_day(D("2026-12-30"), "workday", actor=admin)  # a Wednesday
    assert "周六或周日" in exc.value.errors["kind"][0]
    with pytest.raises(ValidationFailed):
        ops.set_day(D("1999-10-01"), "holiday", actor=admin)
    with pytest.raises(ValidationFailed):
        ops.set_day(D("2026-12-30"), "closed", actor=admin)
    with pytest.raises(ValidationFailed) as exc:
        ops.publish_year(2028, actor=admin)  # nothing entered for 2028
    assert "尚未录入" in exc.value.errors["year"][0]
    with pytest.raises(PermissionDenied):
        ops.set_day(D("2026-12-31"), "holiday", actor=demo.actor("qs.staff"))
    with pytest.raises(PermissionDenied):
        ops.publish_year(2027, actor=demo.actor("center.li"))
    assert table_state(db) == before
    assert changes == []


def test_seeding_fills_only_missing_years_and_the_cli_reports_it(app, db, changes):
    db.session.execute(delete(CalendarDay).where(CalendarDay.day >= D("2025-01-01"),
                                                 CalendarDay.day <= D("2026-12-31")))
    db.session.execute(delete(CalendarYear).where(CalendarYear.year.in_([2025, 2026])))
    ops.set_day(D("2025-06-02"), "holiday", actor=Actor.system("cli"), name="管理员录入")  # 2025 now has a draft
    db.session.commit()
    changes.clear()

    result = app.test_cli_runner().invoke(args=["calendar", "seed"])
    assert result.exit_code == 0, result.output
    assert "已写入 1 个年度" in result.output and "2026" in result.output
    assert changes == [{2026}]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CalendarDay).where(CalendarDay.day >= D("2026-01-01"))) \
        == sum(1 for d in [*chinese_calendar.holidays, *chinese_calendar.workdays] if d.year == 2026)
    assert db.session.get(CalendarYear, 2026).published
    assert not db.session.get(CalendarYear, 2025).published  # the administrator's draft year is left alone
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "calendar.seeded",
                                                                                 AuditEntry.object_id == "2026-2026")) == 1

    again = app.test_cli_runner().invoke(args=["calendar", "seed"])
    assert again.exit_code == 0 and "未改动" in again.output


def test_the_demo_seeder_and_admin_link_are_registered(app):
    assert "calendar" in [name for name, _ in hooks.demo_seeders]
    assert ("calendar.manage", "节假日", "calendar.index") in hooks.admin_links


# --- banner --------------------------------------------------------------------------------------------------


def test_banner_names_the_next_year_without_a_published_table(db, admin):
    assert banner_messages(D("2026-11-23")) == [("warning", BANNER_2027)]
    assert banner_messages(D("2026-01-05")) == [("warning", BANNER_2027)]
    assert banner_messages(D("2025-11-23")) == []
    both = banner_messages(D("2027-03-01"))
    assert [t for _, t in both] == [BANNER_2027, BANNER_2027.replace("2027", "2028")]
    for day, kind, name in OFFICIAL_2027:
        ops.set_day(D(day), kind, actor=admin, name=name)
    ops.publish_year(2027, actor=admin)
    assert banner_messages(D("2026-11-23")) == []


def test_banner_shows_to_administrators_only(app, db):
    expected = [t for _, t in banner_messages(today_in_shanghai())]
    assert expected, "the package ends with 2026: some year from next year on is always unpublished"
    page = text(client_for(app, "admin").get("/admin/calendar/"))
    assert all(t in page for t in expected)
    assert 'class="banner banner-warning"' in page
    other = text(client_for(app, "qs.staff").get("/account"))
    assert not any(t in other for t in expected)


# --- pages ---------------------------------------------------------------------------------------------------

PAGES = ["/admin/calendar/", "/admin/calendar/year?y=2026", "/admin/calendar/year?y=2027", "/admin/calendar/year",
         "/admin/calendar/day", "/admin/calendar/day?date=2027-02-05", "/admin/calendar/publish",
         "/admin/calendar/publish?y=2027"]


def test_admin_pages_answer_200_to_the_admin_and_403_to_a_township_user(app, db):
    admin_client, township = client_for(app, "admin"), client_for(app, "qs.staff")
    for url in PAGES:
        assert admin_client.get(url).status_code == 200, url
        refused = township.get(url)
        assert refused.status_code == 403 and "没有" in text(refused), url
    before = table_state(db)
    assert post(township, "/admin/calendar/day", {"day": "2026-12-31", "kind": "holiday"}).status_code == 403
    assert post(township, "/admin/calendar/publish", {"year": "2027"}).status_code == 403
    assert table_state(db) == before
    nav = text(admin_client.get("/admin/calendar/"))
    assert 'href="/admin/calendar/"' in nav and "节假日" in nav
    assert "节假日" not in re.sub(r"<main.*", "", text(township.get("/account")), flags=re.S)


def test_years_list_and_month_grid(app, db):
    client = client_for(app, "admin")
    index = text(client.get("/admin/calendar/"))
    assert re.search(r"2027 年</a></td>\s*<td[^>]*><span class=\"tag tag-orange\">暂定：未录入官方安排", index)
    assert re.search(r"2026 年</a></td>\s*<td[^>]*><span class=\"tag tag-green\">已发布", index)

    grid = text(client.get("/admin/calendar/year?y=2026"))
    assert "cal-holiday" in cell_class(grid, D("2026-10-05"))
    assert "cal-makeup" in cell_class(grid, D("2026-10-10"))
    assert "cal-weekend" in cell_class(grid, D("2026-10-17"))
    assert "cal-workday" in cell_class(grid, D("2026-10-09"))
    assert grid.count("<section class=\"cal-month\"") == 12
    assert "calendar.css" in grid

    provisional = text(client.get("/admin/calendar/year?y=2027"))
    assert "暂定" in provisional
    assert cell_class(provisional, D("2027-02-05")).split() == ["cal-holiday", "cal-provisional"]
    assert "cal-weekend" in cell_class(provisional, D("2027-02-13"))  # no 调休 assumed
    assert client.get("/admin/calendar/year?y=abc").status_code == 404
    assert client.get("/admin/calendar/year?y=3000").status_code == 404
    with client.get("/admin/calendar/static/calendar.css") as css:
        assert css.status_code == 200 and b".cal-grid" in css.data


def test_setting_a_day_and_publishing_through_the_pages(app, db, changes):
    client = client_for(app, "admin")
    form = text(client.get("/admin/calendar/day?date=2026-10-10"))
    assert 'value="2026-10-10"' in form and '<option value="workday" selected>' in form

    response = post(client, "/admin/calendar/day", {"day": "2027-02-09", "kind": "holiday", "name": "春节"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/calendar/year?y=2027")
    assert db.session.scalar(select(CalendarDay.name).where(CalendarDay.day == D("2027-02-09"))) == "春节"
    assert changes == [{2027}]
    page = text(client.get("/admin/calendar/publish?y=2027"))
    assert "2027-02-09" in page and "已录入 1 天" in page

    response = post(client, "/admin/calendar/publish", {"year": "2027"})
    assert response.status_code == 302
    assert db.session.get(CalendarYear, 2027).published
    assert changes == [{2027}, {2027}]
    assert "已发布" in text(client.get("/admin/calendar/year?y=2027", follow_redirects=True))
    audit = db.session.scalars(select(AuditEntry.actor_name).where(AuditEntry.action.in_(
        ["calendar.day_set", "calendar.year_published"]))).all()
    assert audit == ["admin", "admin"]


BAD_DAY_FORMS = [
    ({"day": "2027-02-30", "kind": "holiday", "name": "春节"}, "day", "请填写有效日期"),
    ({"day": "明天", "kind": "holiday"}, "day", "请填写有效日期"),
    ({"day": "", "kind": "holiday"}, "day", "此项为必填项"),
    ({"day": "2027-02-05", "kind": "closed", "name": "春节"}, "kind", "请从列表中选择"),
    ({"day": "2027-02-05", "kind": "", "name": "春节"}, "kind", "此项为必填项"),
    ({"day": "2027-02-05", "kind": "workday", "name": "春节"}, "kind", "周六或周日"),  # a Friday
    ({"day": "1999-10-01", "kind": "holiday"}, "day", "年份须在"),
    ({"day": "2027-02-05", "kind": "holiday", "name": "长" * 33}, "name", "不能超过 32 个字符"),
    ({"day": "2027-02-05", "kind": "holiday", "is_admin": "1"}, "is_admin", "不允许提交此字段"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_DAY_FORMS, ids=[f"{c[1]}:{c[2]}" for c in BAD_DAY_FORMS])
def test_bad_day_input_is_refused_in_chinese_and_kept(app, db, changes, data, field, message):
    client = client_for(app, "admin")
    before = table_state(db)
    response = post(client, "/admin/calendar/day", data)
    body = text(response)
    assert response.status_code == 422
    assert message in body
    assert "Not a valid" not in body and "Must be one of" not in body
    if data.get("day"):
        assert f'value="{data["day"]}"' in body  # the typing is kept
    if data.get("kind") in ("holiday", "workday"):
        assert f'<option value="{data["kind"]}" selected>' in body
    assert table_state(db) == before
    assert changes == []


BAD_PUBLISH_FORMS = [
    ({"year": "abc"}, "请填写整数"),
    ({"year": ""}, "此项为必填项"),
    ({"year": "1999"}, "应在 2000–2099 之间"),
    ({"year": str(2**63)}, "应在 2000–2099 之间"),
    ({"year": "2028"}, "尚未录入任何节假日"),
    ({"year": "2026"}, "已发布"),
]


@pytest.mark.parametrize(("data", "message"), BAD_PUBLISH_FORMS, ids=[c[1] for c in BAD_PUBLISH_FORMS])
def test_bad_publish_input_is_refused_in_chinese_and_kept(app, db, changes, data, message):
    client = client_for(app, "admin")
    before = table_state(db)
    response = post(client, "/admin/calendar/publish", data)
    body = text(response)
    assert response.status_code == 422
    assert message in body
    assert f'name="year" type="number" value="{data["year"]}"' in body
    assert table_state(db) == before
    assert changes == []
