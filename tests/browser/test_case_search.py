"""The case-list search in Chromium against the real development server: a phone and a name typed into the
search box find the case, the address bar holds only the search id, and the server's own access log (werkzeug's
request lines) holds neither. The repeat line of the found case links the earlier case."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.browser.conftest import assert_clean, screenshot

pytestmark = pytest.mark.browser

REPEAT = "再次反映征收补偿款未足额发放"  # the demo repeat: 李桂兰, 13901010001


def _server_log(tmp_path_factory) -> str:
    logs = sorted(tmp_path_factory.getbasetemp().glob("server*/server.log"))
    assert logs, "the live server's log was not found"
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)


def test_search_keeps_personal_data_out_of_the_url_and_the_access_log(user_page, live_demo, tmp_path_factory):
    page = user_page("qs.staff")
    for q in ("13901010001", "李桂兰"):
        page.goto("/cases/")
        page.fill("#f-q", q)
        with page.expect_navigation():
            page.click("form.case-filters button[type=submit]")
        assert "s=" in page.url and q not in page.url and quote(q) not in page.url, page.url
        assert REPEAT in page.locator("main").inner_text()
        assert page.input_value("#f-q") == q
        assert_clean(page)
    screenshot(page, "case-list-searched")
    with page.expect_navigation():
        page.locator("tr", has_text=REPEAT).locator("a").first.click()
    line = page.locator("dd.repeat-of")
    assert "反映青石村集体土地征收补偿款未足额发放" in line.inner_text()
    with page.expect_navigation():
        line.locator("a").click()
    assert "反映青石村集体土地征收补偿款未足额发放" in page.locator("h1").inner_text()
    log = _server_log(tmp_path_factory)
    assert "POST /cases/search" in log and "GET /cases/?" in log  # the access log is there
    for value in ("13901010001", "李桂兰", quote("李桂兰")):
        assert value not in log
