"""Working days: publishing through the operation, and the admin pages, their permission and their refusal of
bad input."""

# ruff: noqa: F811 - the pytest fixtures imported from calendar_support are test parameters
from __future__ import annotations

import re

import chinese_calendar
import pytest
from sqlalchemy import delete, func, select

from core import hooks
from core.actor import Actor
from core.audit.models import AuditEntry
from core.calendar import Due, banner_messages, load_calendar, today_in_shanghai
from core.calendar import operations as ops
from core.calendar.models import CalendarDay, CalendarSource, CalendarYear, DayKind
from core.errors import PermissionDenied, ValidationFailed
from tests.core.calendar_support import (
    BANNER_2027,
    D,
    cell_class,
    client_for,
    post,
    table_state,
    text,
)
from tests.core.calendar_support import admin as admin
from tests.core.calendar_support import changes as changes

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
