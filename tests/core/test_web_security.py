"""Web security: CSRF refusals, security headers, no inline script or CDN on any page, the health check on a
working and a broken database, and no open redirect after sign-in."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from tests.conftest import DEMO_PASSWORD, csrf_from, make_app
from tests.core.test_route_registry import (
    Jurisdiction,
    guarded_rules,
    isolated_client,
    representatives,
    signed_in_client,
)

HAN = re.compile(r"[\u3400-\u9fff]")
CSRF_MESSAGE = "CSRF"


# --- CSRF ----------------------------------------------------------------------------------------------------


def _display_name(db, user_id):
    from core.accounts.models import User

    return db.session.execute(select(User.display_name, User.title).where(User.id == user_id)).one()


@pytest.mark.parametrize("token", [None, "", "not-a-token", "IjAwMDAi.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"])
def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(app, db, demo, token):
    client, good_token = signed_in_client(app, "admin")
    target = demo.user("qs01.cadre")
    before = _display_name(db, target.id)
    data = {"display_name": "越权改名", "title": "不该保存"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/admin/users/{target.id}/edit", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert CSRF_MESSAGE in body and "请刷新页面" in body
    assert "The CSRF token" not in body and "CSRF token missing" not in body
    assert _display_name(db, target.id) == before
    # the other direction: with the page's token the same submit goes through
    response = client.post(f"/admin/users/{target.id}/edit", data={**data, "csrf_token": good_token})
    assert response.status_code == 302
    assert _display_name(db, target.id) == ("越权改名", "不该保存")


def test_a_token_of_another_session_is_refused(app, db, demo):
    """A token is bound to its session: one lifted from another signed-in browser does not work."""
    _other, foreign_token = signed_in_client(app, "leader.wang")
    client, _token = signed_in_client(app, "admin")
    target = demo.user("qs01.cadre")
    before = _display_name(db, target.id)
    response = client.post(f"/admin/users/{target.id}/edit",
                           data={"csrf_token": foreign_token, "display_name": "跨会话改名"})
    assert response.status_code == 400
    assert HAN.search(response.get_data(as_text=True))
    assert _display_name(db, target.id) == before


def test_login_without_a_csrf_token_is_refused(app, db, demo):
    from core.audit.models import AuditEntry

    client = isolated_client(app)
    client.get("/login")
    entries = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    response = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == entries
    account = client.get("/account")
    assert account.status_code == 302 and urlsplit(account.headers["Location"]).path == "/login"


# --- headers --------------------------------------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_security_headers(response, where):
    csp = response.headers.get("Content-Security-Policy")
    assert csp, f"{where}: no Content-Security-Policy"
    d = csp_directives(csp)
    scripts = d.get("script-src", d.get("default-src"))
    assert scripts is not None, f"{where}: CSP restricts no script source"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, f"{where}: {csp}"
    assert not any(s in ("*", "http:", "https:", "data:") or s.startswith("http") for s in scripts), csp
    assert d.get("frame-ancestors") == ["'none'"], f"{where}: {csp}"
    assert d.get("object-src") == ["'none'"], f"{where}: {csp}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where


def test_security_headers_on_a_page_with_personal_data(app, db, demo):
    client, _token = signed_in_client(app, "admin")
    response = client.get("/admin/users", query_string={"q": "qs01.cadre"})
    assert response.status_code == 200
    assert demo.user("qs01.cadre").display_name in response.get_data(as_text=True)
    assert_security_headers(response, "/admin/users")
    cache = response.headers.get("Cache-Control", "")
    assert "no-store" in cache, cache
    assert "public" not in cache


def test_security_headers_on_the_login_page_and_error_pages(app, db, demo):
    client = isolated_client(app)
    for url, status in (("/login", 200), ("/no-such-page", 404), ("/admin/users", 302)):
        response = client.get(url)
        assert response.status_code == status
        assert_security_headers(response, url)
        assert "no-store" in response.headers.get("Cache-Control", "")


def test_static_files_are_cacheable(app, db):
    client = isolated_client(app)
    response = client.get("/static/app.css")
    assert response.status_code == 200
    cache = response.headers.get("Cache-Control", "")
    assert "no-store" not in cache and "no-cache" not in cache, cache
    age = re.search(r"max-age=(\d+)", cache)
    assert age and int(age.group(1)) >= 3600, cache
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    response.close()


# --- no inline script, no CDN ------------------------------------------------------------------------------------


URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data", "srcset", "manifest", "background"}


class PageAudit(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.inline_scripts = 0
        self.external: list[str] = []
        self.handlers: list[str] = []
        self.inline_styles: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.inline_styles.append("<style>")
        if "style" in a:
            self.inline_styles.append(f"<{tag} style={a['style']!r}>")
        for name, value in a.items():
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES:
                for url in value.split(","):
                    url = url.strip().split(" ")[0].lower()
                    if url.startswith(("http:", "https:", "//", "javascript:")):
                        self.external.append(f"<{tag} {name}={url}>")


_CRAWLED: dict[int, list] = {}


def crawl(app, db):
    """(where, status, html) for every GET page of each representative user, plus public pages; read-only
    requests, so one crawl serves both tests below."""
    if id(app) not in _CRAWLED:
        _CRAWLED[id(app)] = [(where, r.status_code, r.get_data(as_text=True)) for where, r in _crawl(app, db)]
    return _CRAWLED[id(app)]


def _crawl(app, db):
    from core.actor import Actor
    from core.auth.permissions import has_permission

    anonymous = isolated_client(app)
    pages = [("anonymous /login", anonymous.get("/login")), ("anonymous 404", anonymous.get("/nope")),
             ("anonymous 405", anonymous.get("/logout"))]
    rules = [(rule, action) for rule, action in guarded_rules(app) if "GET" in rule.methods]
    for user in representatives(db):
        client, _token = signed_in_client(app, user.username)
        here = Jurisdiction(db, user)
        for rule, action in rules:
            with app.test_request_context():
                url = url_for(rule.endpoint, **here.fill(rule))
            response = client.get(url, follow_redirects=True)
            label = f"{user.username} {url} ({'allowed' if has_permission(Actor.for_user(user), action) else 'denied'})"
            pages.append((label, response))
    return [(where, r) for where, r in pages if r.mimetype == "text/html"]


def test_no_page_has_inline_script_or_third_party_urls(app, db, demo):
    pages = crawl(app, db)
    assert len(pages) > 100
    assert sum(status == 200 for _, status, _ in pages) > 50
    failures = []
    for where, _status, html in pages:
        audit = PageAudit(html)
        if audit.inline_scripts:
            failures.append(f"{where}: {audit.inline_scripts} inline <script>")
        if audit.external:
            failures.append(f"{where}: third-party URLs {audit.external[:3]}")
        if audit.handlers:
            failures.append(f"{where}: inline event handlers {audit.handlers[:3]}")
    assert not failures, "\n".join(failures)


def test_no_page_uses_inline_styles_that_the_csp_blocks(app, db, demo):
    """The CSP allows styles from 'self' only, so a browser ignores style attributes and <style> blocks
    (and reports each as a violation): such styling never reaches the user."""
    from core.security import CSP

    styles = csp_directives(CSP).get("style-src", csp_directives(CSP).get("default-src", []))
    if "'unsafe-inline'" in styles:
        pytest.skip("the CSP allows inline styles")
    failures = []
    for where, _status, html in crawl(app, db):
        audit = PageAudit(html)
        if audit.inline_styles:
            failures.append(f"{where}: {audit.inline_styles[:2]}")
    assert not failures, "inline styles blocked by the CSP:\n" + "\n".join(failures)


# --- health check ------------------------------------------------------------------------------------------------


def test_healthz_answers_ok(app):
    """On a second app instance over the session database: the ``db`` fixture swaps the engine for its
    test connection, which the health check (a connection of its own) cannot use."""
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        response = other.test_client().get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok", "database": "ok"}
        assert "no-store" in response.headers.get("Cache-Control", "")
    finally:
        with other.app_context():
            from core.db import db as _db

            _db.engine.dispose()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_healthz_answers_503_naming_the_database_when_it_is_unusable(tmp_path, engine):
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path}/no/such/directory/mediation.db"
    else:
        url = "postgresql+psycopg://postgres:secret-in-url@127.0.0.1:1/mediation?connect_timeout=3"
    broken = make_app(url)
    try:
        response = broken.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] != "ok"
        assert "database" in body and body["database"] != "ok"
        text = response.get_data(as_text=True)
        for leak in ("secret-in-url", "127.0.0.1:1", "no/such/directory", "Error", "Traceback"):
            assert leak not in text, f"the health check leaks {leak!r}"
    finally:
        with broken.app_context():
            from core.db import db as _db

            _db.engine.dispose()


# --- open redirect -----------------------------------------------------------------------------------------------


HOSTILE_NEXT = [
    "//evil.example",
    "http://evil.example",
    "https://evil.example/login",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "//evil.example/%2F..",
]


def _login_with_next(app, next_value):
    client = isolated_client(app)
    page = client.get("/login", query_string={"next": next_value})
    html = page.get_data(as_text=True)
    token = csrf_from(html)
    hidden = re.search(r'name="next" value="([^"]*)"', html)
    assert hidden is not None, "the login form has no next field"
    response = client.post("/login", data={"csrf_token": token, "username": "qs.staff",
                                           "password": DEMO_PASSWORD, "next": next_value})
    return response


@pytest.mark.parametrize("next_value", HOSTILE_NEXT)
def test_login_never_redirects_to_another_site(app, db, demo, next_value):
    response = _login_with_next(app, next_value)
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    # resolve the Location as a browser does (it drops tabs and newlines and treats '\' like '/')
    cleaned = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    target = urlsplit(urljoin("http://mdt.local/login", cleaned))
    assert target.netloc == "mdt.local", f"next={next_value!r} redirects to {location!r}"
    assert target.path == "/", f"next={next_value!r} should land on our home, not {location!r}"


def test_login_follows_a_local_next(app, db, demo):
    """The other direction: a same-site path is honoured (the login page carries it from the refusal)."""
    client = isolated_client(app)
    refused = client.get("/admin/org")
    assert refused.status_code == 302
    login_url = refused.headers["Location"]
    html = client.get(login_url).get_data(as_text=True)
    next_value = re.search(r'name="next" value="([^"]*)"', html).group(1)
    assert next_value == "/admin/org"
    response = client.post("/login", data={"csrf_token": csrf_from(html), "username": "qs.staff",
                                           "password": DEMO_PASSWORD, "next": next_value})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/org"
