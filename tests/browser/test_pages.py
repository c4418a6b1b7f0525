"""Every page in headless Chromium against the real server, at 1366 px and at 360 px (WeChat on a phone).

Each page is screenshotted (tests/browser/screenshots/<page>-<desktop|phone>.png, full page) and must show
no console error, no CSP violation, no request leaving 127.0.0.1 and, on the phone, no horizontal scrolling.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import assert_clean, assert_fits, login_via_form, screenshot
from tests.browser.screens import Screen
from tests.specs import collect

pytestmark = pytest.mark.browser

WIDTHS = ("desktop", "phone")


def path_of(page) -> str:
    return urlsplit(page.url).path


# --- signing in and out -------------------------------------------------------------------------------------

HOMES = [
    # (username, profile, home path prefix, unit shown, role shown)
    ("admin", "desktop", "/admin/org/", "示范区", "系统管理员"),
    ("qs.staff", "desktop", "/township/", "青石镇", "乡镇工作人员"),
    ("qs01.g1", "phone", "/m/", "青石村第1网格", "网格员"),
]


@pytest.mark.parametrize(("username", "profile", "home", "unit", "role"), HOMES,
                         ids=[h[0] for h in HOMES])
def test_login_form_lands_on_own_desk(open_page, username, profile, home, unit, role):
    page = open_page(profile)
    page.goto("/")
    assert path_of(page) == "/login"
    screenshot(page, "login")
    response = login_via_form(page, username)
    screenshot(page, f"home-{username}")
    assert response.ok
    assert path_of(page).startswith(home), page.url
    who = page.locator(".topbar .who")
    assert who.locator(".role").is_visible(), "the top bar must show the unit and role at every width"
    text = who.inner_text()
    assert unit in text and role in text, text
    if profile == "phone":
        assert_fits(page)
    assert_clean(page)


@pytest.mark.parametrize("profile", WIDTHS)
def test_wrong_password_shows_chinese_error(open_page, profile):
    page = open_page(profile)
    response = login_via_form(page, "qs.leader", "Wrong#Pass1")
    assert response.status == 401
    assert path_of(page) == "/login"
    error = page.locator(".flash-error")
    assert error.is_visible()
    assert error.inner_text().strip() == "用户名或密码错误"
    assert page.input_value("#f-username") == "qs.leader"
    assert page.input_value("#f-password") == ""
    assert page.locator(".topbar .who").count() == 0
    screenshot(page, "login-error")
    if profile == "phone":
        assert_fits(page)
    assert_clean(page, statuses=(401,))


def test_logout_confirms_in_chinese(phone):
    login_via_form(phone, "qs01.cadre")
    assert path_of(phone) == "/village/"
    with phone.expect_navigation():
        phone.click(".whoami button[type=submit]")
    assert path_of(phone) == "/login"
    screenshot(phone, "logged-out")
    flash = phone.locator(".flash-success")
    assert flash.count() == 1, "after logout the login page must say 您已安全退出"
    assert "您已安全退出" in flash.inner_text()
    assert_fits(phone)
    assert_clean(phone)


@pytest.mark.parametrize("profile", WIDTHS)
def test_logout_then_back_and_reload_do_not_show_the_desk(open_page, profile):
    page = open_page(profile)
    login_via_form(page, "qs.staff")
    assert path_of(page) == "/township/"
    assert page.locator("h1").inner_text().startswith("青石镇")
    signed_in_cookies = page.context.cookies()
    with page.expect_navigation():
        page.click(".whoami button[type=submit]")
    assert path_of(page) == "/login"
    old_sids = {c["value"] for c in signed_in_cookies}
    assert not old_sids & {c["value"] for c in page.context.cookies()}, "the signed-in session id must be gone"

    page.go_back()
    page.wait_for_load_state()
    assert path_of(page) == "/login", f"back after logout showed {page.url}"
    assert page.locator(".topbar .who").count() == 0
    assert "青石镇矛盾纠纷调处化解中心" not in page.content()

    page.reload()
    assert path_of(page) == "/login"
    assert page.locator(".topbar .who").count() == 0

    page.goto("/township/")
    assert path_of(page) == "/login"
    assert page.locator(".topbar .who").count() == 0
    assert_clean(page)

    # A copy of the cookie taken before logout opens nothing: the session ended on the server.
    replay = open_page(profile)
    replay.context.add_cookies(signed_in_cookies)
    replay.goto("/township/")
    # In the WeChat browser (phone) an anonymous visit goes to silent sign-in: the stand-in's authorise page.
    assert path_of(replay) in ("/login", "/mp/connect/oauth2/authorize")
    assert replay.locator(".topbar .who").count() == 0


# --- every page, both widths ---------------------------------------------------------------------------------


SCREENS = [
    Screen("login", None, "/login", "登录"),
    Screen("desk-center", "center.li", "/center/", "示范区社会矛盾纠纷调处化解中心"),
    Screen("desk-township", "qs.staff", "/township/", "青石镇矛盾纠纷调处化解中心"),
    Screen("desk-village", "qs01.head", "/village/", "青石村"),
    Screen("desk-department", "xinfang.liaison", "/center/department", "区信访局"),
    Screen("mobile-home", "qs01.g1", "/m/", "青石村第1网格"),
    Screen("org-district", "admin", "/admin/org/{unit[示范区]}", "下级单位"),
    Screen("org-township", "admin", "/admin/org/{unit[青石镇]}", "进驻部门"),
    Screen("unit-edit", "admin", "/admin/org/{unit[青石镇]}/edit", "编辑：青石镇"),
    Screen("unit-new", "admin", "/admin/org/{unit[青石镇]}/new", "新建单位"),
    Screen("unit-new-invalid", "admin", "/admin/org/{unit[青石镇]}/new", "新建单位", status=422,
           submit_invalid={"f-code": "", "f-name": ""}),
    Screen("org-import", "admin", "/admin/org/import", "导入组织机构"),
    Screen("users", "admin", "/admin/users", "auditor"),
    Screen("user-detail", "admin", "/admin/users/{user[qs.staff]}", "乡镇工作人员"),
    Screen("user-new", "admin", "/admin/users/new", "新建用户"),
    Screen("user-new-invalid", "admin", "/admin/users/new", "新建用户", status=422,
           submit_invalid={"f-username": "x", "f-display_name": "", "f-password": "short"}),
    Screen("departments", "admin", "/admin/departments", "区信访局"),
    Screen("department-edit", "admin", "/admin/departments/{dept[区信访局]}/edit", "编辑部门：区信访局"),
    Screen("department-new", "admin", "/admin/departments/new", "新建部门"),
    Screen("security-policy", "secadmin", "/admin/security", "安全策略"),
    Screen("audit", "auditor", "/admin/audit", "审计日志"),
    Screen("notify-deliveries", "admin", "/admin/notify/", "消息投递"),
    Screen("notify-channels", "admin", "/admin/notify/channels", "通道状态"),
    Screen("notify-bindings", "admin", "/admin/notify/bindings", "消息绑定"),
    Screen("case-detail", "qs.staff", "/cases/{case[反映养殖场污水排入灌溉渠]}", "全程记录"),
    Screen("notify-preferences", "qs01.g1", "/account/notifications/", "免打扰开始"),
    Screen("profile", "qs.staff", "/account", "我的岗位"),
    Screen("profile-grid", "qs01.g1", "/account", "我的岗位"),
    Screen("change-password", "qs.staff", "/account/password", "修改密码"),
    Screen("not-found", "qs.staff", "/no-such-page", "未找到", status=404),
    Screen("forbidden", "qs.staff", "/admin/audit", "无权访问", status=403),
]
SCREENS += [screen for screens in collect("SCREENS") for screen in screens]


@pytest.mark.parametrize("profile", WIDTHS)
@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_page(user_page, live_demo, screen, profile):
    page = user_page(screen.user, profile)
    path = screen.path.format(unit=live_demo.units, user=live_demo.users, dept=live_demo.departments,
                              case=live_demo.cases, doc=live_demo.documents)
    response = page.goto(path)
    expected_status = screen.status
    if screen.submit_invalid is not None:
        assert response.status == 200
        for field_id, value in screen.submit_invalid.items():
            page.fill(f"#{field_id}", value)
        with page.expect_navigation() as nav:
            page.click("form.stack button[type=submit]")
        response = nav.value
    screenshot(page, screen.name)
    if screen.submit_invalid is not None:
        errors = page.locator(".field.has-error .error")
        assert errors.count() >= 1, "an invalid form must show the error next to its field"
        assert page.locator(".flash-error").first.is_visible()
    assert response.status == expected_status, f"{page.url} answered {response.status}"
    assert path_of(page) != "/login" or screen.user is None, f"{screen.user} was sent to the login page"
    assert screen.marker in page.locator("main").inner_text()
    if screen.user:
        assert page.locator(".topbar .who .role").is_visible(), "the top bar must show the unit and role"
    if profile == "phone":
        assert_fits(page)
    assert_clean(page, statuses=(expected_status,) if expected_status >= 400 else ())


@pytest.mark.parametrize("profile", WIDTHS)
def test_touch_targets_on_grid_worker_home(user_page, profile):
    """Grid-worker pages are one column with large touch targets (DESIGN §6)."""
    page = user_page("qs01.g1", profile)
    page.goto("/m/")
    tiles = page.locator(".m-actions .btn, .m-task")
    assert tiles.count() >= 3
    boxes = [tiles.nth(i).bounding_box() for i in range(tiles.count())]
    assert len({round(b["x"]) for b in boxes}) == 1, "tiles must stack in one column"
    for box in boxes:
        assert box["height"] >= 44
    logout = page.locator(".whoami button[type=submit]").bounding_box()
    if profile == "phone":
        assert logout["height"] >= 32, logout
    assert_clean(page)


def test_units_are_listed_in_code_order(user_page, live_demo):
    """Lists of units follow the administrative codes (001, 002, …), as clerks know them."""
    page = user_page("admin")
    page.goto(f"/admin/org/{live_demo.units['青石镇']}")
    codes = page.locator("table.list").first.locator("td[data-label=代码]").all_inner_texts()
    assert len(codes) == 10
    assert codes == sorted(codes), codes

    page = user_page("center.li")
    page.goto("/center/")
    names = page.locator("table.township-list").locator("td[data-label=乡镇]").all_inner_texts()
    assert names == ["城关街道", "东湖街道", "青石镇", "柳河镇", "桃源乡", "白云乡"], names
