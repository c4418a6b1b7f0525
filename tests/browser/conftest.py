"""Browser fixtures: the real server (``flask run``) on a fresh SQLite file holding the demo district, and
headless Debian Chromium driven by Playwright at desktop (1366 px) and phone (360 px, WeChat) sizes.

Every page opened through these fixtures is watched: console errors, uncaught script errors, CSP violations
and requests to any host other than 127.0.0.1 are collected, and ``assert_clean(page)`` fails on them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import dbutil
from tests.conftest import DEMO_PASSWORD, make_app

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync"]
LOCAL_HOST = "127.0.0.1"

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 12; V2134A Build/SP1A.210812.003; wv) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5061 "
             "MMWEBSDK/20230303 MMWEBID/2234 MicroMessenger/8.0.34.2340(0x2800225D) WeChat/arm64 Weixin "
             "NetType/WIFI Language/zh_CN ABI/arm64")
PROFILES = {
    "desktop": {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"},
    "phone": {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 1, "is_mobile": True,
              "has_touch": True, "user_agent": WECHAT_UA, "locale": "zh-CN"},
}

#: Reports CSP violations to the test (init scripts run outside the page's CSP).
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__reportCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile || e.documentURI}`);
});
"""


@dataclass
class LiveDemo:
    """Ids of demo objects in the live server's database, so tests can build URLs."""

    units: dict[str, int]
    users: dict[str, int]
    departments: dict[str, int]
    #: case summary → number (numbers follow the year and the order of the demo: never hard-code them)
    cases: dict[str, str] = field(default_factory=dict)
    #: "<case summary>|<document kind>|draft|approved" → id of the latest such document
    documents: dict[str, int] = field(default_factory=dict)


@dataclass
class Watch:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def on_request(self, request):
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.hostname != LOCAL_HOST:
            self.foreign.append(request.url)

    def clear(self):
        self.console_errors.clear()
        self.page_errors.clear()
        self.csp.clear()
        self.foreign.clear()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


def _python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@pytest.fixture(scope="session")
def live_database(tmp_path_factory, migrated_template):
    """A fresh SQLite file, migrated, holding the demo district (a copy of the session's template); answers
    (url, LiveDemo)."""
    url = dbutil.copy_database(migrated_template, tmp_path_factory.mktemp("live"))
    app = make_app(url)
    from sqlalchemy import select

    from core.accounts.models import User
    from core.db import db
    from core.org.models import Department, OrgUnit

    with app.app_context():
        from center.cases.models import Case, CaseDocument

        docs = db.session.execute(select(CaseDocument.id, Case.summary, CaseDocument.kind, CaseDocument.approved_at)
                                  .join(Case, CaseDocument.case_id == Case.id).order_by(CaseDocument.id))
        ids = LiveDemo(
            units={name: id_ for id_, name in db.session.execute(select(OrgUnit.id, OrgUnit.name))},
            users={name: id_ for id_, name in db.session.execute(select(User.id, User.username))},
            departments={name: id_ for id_, name in db.session.execute(select(Department.id, Department.name))},
            cases={summary: number for summary, number in db.session.execute(select(Case.summary, Case.number))},
            documents={f"{summary}|{kind}|{'approved' if approved else 'draft'}": id_
                       for id_, summary, kind, approved in docs},
        )
        db.session.remove()
        db.engine.dispose()
    return url, ids


@pytest.fixture(scope="session")
def live_demo(live_database) -> LiveDemo:
    return live_database[1]


@pytest.fixture(scope="session")
def live_attachments(tmp_path_factory) -> str:
    """Where the live server stores case attachments (tests open the stored files to check them)."""
    return str(tmp_path_factory.mktemp("attachments"))


@pytest.fixture(scope="session")
def live_server(live_database, tmp_path_factory, fake_wechat, live_attachments):
    """Base URL of the real development server running on the live database, talking to the session's fake
    WeChat server (web authorisation pages included, so silent sign-in works inside the phone profile)."""
    url, _ids = live_database
    port = _free_port()
    base = f"http://{LOCAL_HOST}:{port}"
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    wechat = {f"MEDIATION_{key}": value for key, value in fake_wechat.config.items()}
    wechat["MEDIATION_CASE_ATTACHMENT_DIR"] = live_attachments
    # The page tour signs every role in many times: the second factor is tested in tests/core/test_factors.py
    # and test_attack_security13.py (and looked at in Chromium by hand); here the password is enough.
    env = dict(os.environ, MEDIATION_ENV="development", DATABASE_URL=url, PYTHONUNBUFFERED="1",
               MEDIATION_SECOND_FACTOR_ENFORCED="false", **wechat)
    env.pop("FLASK_DEBUG", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([_python(), "-m", "flask", "--app", "wsgi", "run", "--host", LOCAL_HOST,
                                 "--port", str(port), "--no-reload"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_healthy(base, proc, log_path)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_healthy(base: str, proc: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer /healthz in {timeout} s:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


def _new_page(browser, base_url: str, profile: str, state: dict | None = None):
    """A page in a new context at that size, watched (page.watch)."""
    context = browser.new_context(base_url=base_url, storage_state=state, **PROFILES[profile])
    context.set_default_timeout(5_000)
    watch = Watch()
    context.expose_binding("__reportCsp", lambda _source, text: watch.csp.append(text))
    context.add_init_script(CSP_LISTENER)
    context.on("request", watch.on_request)
    context.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
    page.watch = watch
    page.profile = profile
    return page


@pytest.fixture()
def open_page(browser, live_server):
    """open_page("phone") → a fresh page (new context, no cookies) at that size, closed after the test."""
    pages = []

    def _open(profile: str = "desktop"):
        pages.append(_new_page(browser, live_server, profile))
        return pages[-1]

    yield _open
    for p in pages:
        p.context.close()


@pytest.fixture()
def page(open_page):
    """A desktop page (1366×900)."""
    return open_page("desktop")


@pytest.fixture()
def phone(open_page):
    """A 360×740 touch phone with WeChat's in-app browser user agent."""
    return open_page("phone")


def login_via_form(page, username: str, password: str = DEMO_PASSWORD):
    """Sign in through the real login form; answers the response of the form post."""
    page.goto("/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    with page.expect_navigation() as nav:
        page.click("form.stack button[type=submit]")
    return nav.value


@pytest.fixture(scope="session")
def user_page(browser, live_server):
    """user_page("qs.staff", "phone") → a page signed in through the login form (None: anonymous).

    One context per (user, size) for the whole session keeps the page tour fast; its watch is cleared on
    every call. Tests that sign out use ``open_page`` instead.
    """
    cache: dict[tuple[str | None, str], object] = {}
    states: dict[str, dict] = {}

    def _get(username: str | None, profile: str = "desktop"):
        key = (username, profile)
        if key not in cache:
            # The other size reuses the session cookie: one sign-in per user.
            p = _new_page(browser, live_server, profile, states.get(username))
            if username is not None and username not in states:
                login_via_form(p, username)
                assert urlsplit(p.url).path != "/login", f"{username} could not sign in"
                states[username] = p.context.storage_state()
            cache[key] = p
        p = cache[key]
        p.watch.clear()
        return p

    yield _get
    for p in cache.values():
        p.context.close()


def assert_clean(page, *, statuses: tuple[int, ...] = ()) -> None:
    """No console errors (except the browser's note on an expected error status), no script errors, no CSP
    violation, no request leaving 127.0.0.1."""
    expected = tuple(f"the server responded with a status of {code}" for code in statuses)
    errors = [e for e in page.watch.console_errors if not (expected and any(x in e for x in expected))]
    assert not errors, f"console errors on {page.url}: {errors}"
    assert not page.watch.page_errors, f"script errors on {page.url}: {page.watch.page_errors}"
    assert not page.watch.csp, f"CSP violations on {page.url}: {page.watch.csp}"
    assert not page.watch.foreign, f"requests to other hosts from {page.url}: {page.watch.foreign}"


def assert_fits(page) -> None:
    """No horizontal scrolling: the document is no wider than the viewport (1 px rounding allowed)."""
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width + 1:
        culprits = page.evaluate(
            """(w) => [...document.querySelectorAll('body *')]
                 .filter(el => el.getBoundingClientRect().right > w + 1)
                 .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                 + ' right=' + Math.round(el.getBoundingClientRect().right))""", width)
        pytest.fail(f"horizontal overflow on {page.url}: scrollWidth {scroll} > {width}; widest: {culprits}")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.profile}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
