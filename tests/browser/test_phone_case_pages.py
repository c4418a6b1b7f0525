"""Case pages at phone width in headless Chromium (issue #10 item 8): the grid worker's phone case page confirms
a saved note and shows her photos, the resident (masked), the category; a staff member opening the case from a
WeChat card gets a page no wider than the phone, whose tables and actions stay inside the screen."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_clean, assert_fits, login_via_form, screenshot

pytestmark = pytest.mark.browser

SUMMARY = "邻里因排水沟堵塞发生争执"
#: A note no phone can wrap at a space: a case number, a code and a long digit run glued together.
LONG_CODE = "SF-2026-000123/ZX" + "0123456789" * 6
TOLERANCE = 2  # px: sub-pixel rounding


def _jpeg(path) -> str:
    from PIL import Image

    Image.new("RGB", (1200, 900), (90, 140, 60)).save(path, "JPEG", quality=90)
    return str(path)


CONTROLS = "main button, main .btn, main input, main select, main textarea, main summary"


def _outside(page) -> list[str]:
    """Controls (buttons, links styled as buttons, fields, action summaries) reaching past the right edge."""
    return page.evaluate(
        """(w) => [...document.querySelectorAll('""" + CONTROLS + """')]
             .filter(el => el.offsetParent !== null && el.getBoundingClientRect().right > w + 2)
             .map(el => el.tagName.toLowerCase() + ' ' + (el.textContent || el.name || '').trim().slice(0, 20)
                  + ' right=' + Math.round(el.getBoundingClientRect().right))""",
        page.viewport_size["width"])


def test_the_phone_case_page_confirms_a_note_and_shows_photos_resident_and_category(open_page, live_demo,
                                                                                    tmp_path):
    number = live_demo.cases[SUMMARY]
    phone = open_page("phone")
    login_via_form(phone, "qs01.g1")
    phone.goto(f"/m/cases/{number}")
    phone.click("summary:has-text('记进展')")
    phone.fill("#f-note", f"已到现场查看，清淤编号 {LONG_CODE}")
    phone.set_input_files("#f-photos", _jpeg(tmp_path / "ditch.jpg"))
    phone.wait_for_selector("[data-photo-preview] img")
    with phone.expect_navigation(url=re.compile(rf"/m/cases/{number}$")):
        phone.click("form[action$='/notes'] button[type=submit]")
    status = phone.locator("main [role=status]")
    assert "进展已保存" in status.inner_text()
    facts = phone.locator("dl.m-facts").inner_text()
    assert "类别" in facts and "群众" in facts and re.search(r"\*\*", facts)  # the resident, masked
    assert re.search(r"1\d\d\*{4}\d{4}", facts)  # the phone, masked
    photos = phone.locator(".m-photos img")
    assert photos.count() >= 1
    photos.first.scroll_into_view_if_needed()
    phone.wait_for_function("() => [...document.querySelectorAll('.m-photos img')].every(i => i.complete)")
    assert phone.evaluate("document.querySelector('.m-photos img').naturalWidth") > 0  # served and shown
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360 + TOLERANCE
    assert_fits(phone)
    assert not _outside(phone)
    phone.evaluate("window.scrollTo(0, 0)")
    screenshot(phone, "mobile-case-saved")
    assert_clean(phone)


def test_the_staff_case_page_fits_a_phone(open_page, live_demo):
    # the case the worker noted on above (its timeline holds the long code) — or any case: both must fit
    for summary in (SUMMARY, "反映青石村集体土地征收补偿款未足额发放"):
        staff = open_page("phone")
        login_via_form(staff, "qs.staff")
        staff.goto(f"/cases/{live_demo.cases[summary]}")
        assert staff.locator("h1").inner_text().strip() == summary
        width = staff.evaluate("document.documentElement.scrollWidth")
        assert width <= 360 + TOLERANCE, f"{summary}: scrollWidth {width}"
        assert staff.evaluate("document.body.scrollWidth") <= 360 + TOLERANCE
        assert_fits(staff)
        assert not _outside(staff), _outside(staff)
        # the tables collapse into one card per row, the sections are one tap away
        assert staff.locator("table.list thead").first.is_hidden()
        jump = staff.locator("nav.case-jump")
        assert jump.is_visible() and jump.locator("a[href='#case-timeline']").count() == 1
        with_code = staff.locator("table.case-timeline td", has_text=LONG_CODE)
        if with_code.count():
            box = with_code.first.bounding_box()
            assert box["x"] + box["width"] <= 360 + TOLERANCE  # wrapped inside its box, not past the screen
        jump.locator("a[href='#case-timeline']").click()
        assert staff.locator("#case-timeline").is_visible()
        staff.evaluate("window.scrollTo(0, 0)")
        screenshot(staff, "staff-case-" + ("noted" if summary == SUMMARY else "petition"))
        assert_clean(staff)


def test_the_staff_case_page_keeps_its_desktop_layout(page, live_demo):
    login_via_form(page, "qs.staff")
    page.goto(f"/cases/{live_demo.cases[SUMMARY]}")
    assert page.locator("nav.case-jump").is_hidden()  # phones only
    assert page.locator("table.case-timeline thead").is_visible()
    assert_fits(page)
    screenshot(page, "staff-case")
    assert_clean(page)


def _file(phone, name: str, mobile: str, summary: str, *, lands: str) -> None:
    phone.goto("/m/file")
    phone.fill("#f-name", name)
    phone.fill("#f-phone", mobile)
    phone.click("button[data-next] >> nth=0")
    phone.select_option("#f-category", "邻里纠纷")
    phone.fill("#f-summary", summary)
    phone.fill("#f-demands", "请求清理垃圾、疏通排水沟")
    phone.locator("fieldset[data-step='2'] button[data-next]").click()
    phone.check("input[name=consent]")
    phone.click("button.final-submit")
    phone.wait_for_selector(lands)  # the draft script posts, then shows the case or the refused form


def test_a_repeat_candidate_on_the_phone_is_named_and_linked(open_page, live_demo):
    """Filing again for the same resident about the same matter: before anything is saved the phone shows the
    earlier case with its date, status, unit and summary, and a link to open it."""
    phone = open_page("phone")
    login_via_form(phone, "qs01.g1")
    mobile = "13901016677"
    _file(phone, "赵重复", mobile, "邻居院墙外堆放建筑垃圾堵塞排水沟", lands="dl.m-facts")
    first = re.search(r"/m/cases/([A-Z0-9-]+)", phone.url).group(1)
    _file(phone, "赵重复", mobile, "邻居院墙外的建筑垃圾仍未清理，排水沟堵塞", lands=".repeat-candidate")
    card = phone.locator(".repeat-candidate").first
    text = card.inner_text()
    assert first in text and "已登记" in text and "青石村" in text and "建筑垃圾" in text
    assert card.locator(f"a[href='/m/cases/{first}']").count() == 1
    assert card.locator(f"button[value='{first}']").count() == 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360 + TOLERANCE
    card.scroll_into_view_if_needed()
    screenshot(phone, "mobile-repeat-candidate")
    assert_fits(phone)
