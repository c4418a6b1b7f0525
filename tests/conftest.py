"""Fixtures: a session-scoped app on a migrated database holding the demo district; per-test isolation by
an outer transaction that is rolled back (every commit inside becomes a savepoint release); fresh
databases for tests that need committed data seen by other processes.

Run on SQLite by default; MEDIATION_TEST_ENGINE=postgresql with MEDIATION_TEST_PG_URL runs on PostgreSQL.
"""

from __future__ import annotations

import os
import re

import pytest
from flask.testing import FlaskClient

from tests import dbutil

os.environ.setdefault("MEDIATION_ENV", "test")


def pytest_collection_modifyitems(config, items):
    if dbutil.ENGINE == "postgresql":
        skip = pytest.mark.skip(reason="browser tests run on SQLite only")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


class RequestContextClient(FlaskClient):
    """Each request runs in its own app context, as in production. The ``db`` fixture keeps one app context
    pushed for the whole test and Flask would reuse it for test-client requests, so ``g`` (flask-login's
    cached user, flask-wtf's CSRF token, our actor) would leak from one request and one client to the next."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(url: str, **extra):
    import tempfile

    from core.app import create_app

    extra.setdefault("CASE_ATTACHMENT_DIR", tempfile.mkdtemp(prefix="mdt-attachments-"))
    application = create_app({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": url, **extra})
    application.test_client_class = RequestContextClient
    return application


def migrate_and_seed(app, *, demo: bool = True) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        if demo:
            from core.cli import load_demo

            load_demo()


@pytest.fixture(scope="session")
def fake_wechat():
    """The project's fake WeChat/WeCom API server on a loopback port, for the whole session."""
    from notify.fake import start_fake_server, stop_fake_server

    server, base_url, thread = start_fake_server()
    yield FakeWeChat(server, base_url)
    stop_fake_server(server, thread)


class FakeWeChat:
    def __init__(self, server, base_url):
        self.server = server
        self.base_url = base_url

    @property
    def config(self) -> dict:
        return {"MP_API_BASE": f"{self.base_url}/mp/cgi-bin/", "WECOM_API_BASE": f"{self.base_url}/work/cgi-bin/",
                "MP_OAUTH_BASE": f"{self.base_url}/mp/", "WECOM_OAUTH_BASE": f"{self.base_url}/work/"}

    def control(self, method, path, **kw):
        import requests

        response = requests.request(method, f"{self.base_url}/_fake/{path}", timeout=10, **kw)
        response.raise_for_status()
        return response.json()

    def messages(self, **params):
        return self.control("GET", "messages", params=params)["messages"]

    def requests(self, path):
        return self.control("GET", "requests", params={"path": path})["requests"]

    def fault(self, path, count=1, **spec):
        return self.control("POST", "faults", json={"path": path, "count": count, **spec})

    def reset(self):
        return self.control("POST", "reset", json={})


@pytest.fixture(scope="session")
def app(tmp_path_factory, fake_wechat):
    from core.db import db as _db

    url = dbutil.session_database_url(tmp_path_factory.mktemp("db"))
    application = make_app(url, **fake_wechat.config)
    migrate_and_seed(application)
    with application.app_context():
        _db.engine.dispose()  # PostgreSQL copies only a database nobody is connected to
    # Taken before any test ran: what every fresh database starts from (``migrated_template``).
    application.test_template_url = dbutil.snapshot_database(url, tmp_path_factory.mktemp("template"))
    yield application
    with application.app_context():
        _db.engine.dispose()
    dbutil.drop_database(application.test_template_url)


@pytest.fixture(scope="session")
def migrated_template(app) -> str:
    """A database migrated and holding the demo district, as the session's database was before the first test
    (the same migrations, the same demo load): fresh databases are copies of it (``fresh_url``), so a test that
    needs committed data or a live server pays milliseconds instead of a migration and a demo load."""
    return app.test_template_url


@pytest.fixture()
def db(app):
    """Per-test isolation. Fails the test if it committed tier data without its AuditEntry."""
    from core.audit import guard
    from core.db import bind_short_sessions
    from core.db import db as _db

    with app.app_context():
        engine = _db.engine
        connection = engine.connect()
        outer = connection.begin()
        original = _db.session
        # Flask-SQLAlchemy's get_bind() answers from db.engines, ignoring a session-level bind: point the
        # default "engine" at the test connection for the duration of the test.
        _db.engines[None] = connection
        _db.session = _db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
        bind_short_sessions(connection)
        guard.violations.clear()
        touched = _watch_reach()
        try:
            yield _db
            _check_reach(connection, touched)
        finally:
            _stop_watching_reach(touched)
            _db.session.remove()
            _db.session = original
            _db.engines[None] = engine
            bind_short_sessions(None)
            outer.rollback()
            connection.close()
        assert not guard.violations, guard.violations


def _watch_reach() -> set:
    """The cases a test's flushes touched (center.cases.reach keeps their scope rows)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from center.cases import reach

    touched: set = set()

    def record(session, _context):
        touched.update(reach.touched_cases(session))

    event.listen(Session, "after_flush", record)
    touched_listener[id(touched)] = record
    return touched


touched_listener: dict = {}


def _stop_watching_reach(touched: set) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.remove(Session, "after_flush", touched_listener.pop(id(touched)))


def _check_reach(connection, touched: set) -> None:
    """Every test that wrote a case leaves its scope rows equal to a recomputation (whatever operation ran)."""
    from sqlalchemy.exc import DBAPIError

    from center.cases import reach

    if not touched or not connection.in_transaction():
        return
    try:
        drift = reach.drift(connection, touched)
    except DBAPIError:  # the test left the transaction failed (its own assertion says why)
        return
    assert not drift, f"case_reach out of step with a recomputation: {drift[:5]}"


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def demo(db):
    """Lookups into the demo district by username and unit code/name."""
    return Demo(db)


class Demo:
    def __init__(self, db):
        self.db = db

    def user(self, username):
        from sqlalchemy import select

        from core.accounts.models import User

        return self.db.session.scalar(select(User).where(User.username == username))

    def unit(self, name_or_code):
        from sqlalchemy import or_, select

        from core.org.models import OrgUnit

        return self.db.session.scalar(select(OrgUnit).where(or_(OrgUnit.code == name_or_code,
                                                                OrgUnit.name == name_or_code)))

    def department(self, name):
        from sqlalchemy import select

        from core.org.models import Department

        return self.db.session.scalar(select(Department).where(Department.name == name))

    def actor(self, username):
        from core.actor import Actor

        return Actor.for_user(self.user(username), ip="127.0.0.1", channel="web")


def settle_demo_outbox(session) -> None:
    """The demo district queues a few welcome messages; tests that count sends start from a quiet outbox
    (inside the test's transaction, so nothing of the shared database changes)."""
    from sqlalchemy import update

    from notify.models import Delivery, DeliveryStatus

    session.execute(update(Delivery).where(Delivery.status == DeliveryStatus.queued)
                    .values(status=DeliveryStatus.sent))


DEMO_PASSWORD = "Shifan#2026"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, username, password=DEMO_PASSWORD):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password})


def csrf_token(client, path="/account/password"):
    return csrf_from(client.get(path).get_data(as_text=True))


@pytest.fixture()
def enforced(app):
    """The second factor switched on for one test (the suite's configuration signs in with passwords)."""
    before = app.config["SECOND_FACTOR_ENFORCED"]
    app.config["SECOND_FACTOR_ENFORCED"] = True
    yield
    app.config["SECOND_FACTOR_ENFORCED"] = before


@pytest.fixture()
def login_as(client):
    """login_as("qs.staff") signs the test client in and returns it."""

    def _login(username, password=DEMO_PASSWORD):
        response = login(client, username, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _login


@pytest.fixture()
def signed_in(app, db):
    """signed_in("qs01.head") → a fresh test client signed in as that user (several may coexist)."""

    def _make(username, password=DEMO_PASSWORD):
        client = app.test_client()
        response = login(client, username, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return client

    return _make


def fresh_migrated_url(tmp_dir, template: str | None = None) -> str:
    """A brand-new database on the engine under test, migrated, holding the demo district: a copy of
    ``template`` (the ``migrated_template`` fixture) if given, else migrated and loaded here."""
    if template is not None:
        return dbutil.copy_database(template, tmp_dir)
    url = dbutil.fresh_database_url(tmp_dir)
    application = make_app(url)
    migrate_and_seed(application)
    with application.app_context():
        from core.db import db as _db

        _db.engine.dispose()
    return url


@pytest.fixture()
def fresh_url(tmp_path, migrated_template):
    """A migrated database holding the demo district, for tests that need committed data (a copy of the
    session's template)."""
    url = fresh_migrated_url(tmp_path, migrated_template)
    yield url
    dbutil.drop_database(url)


@pytest.fixture()
def live(fresh_url, fake_wechat):
    """Our app on a fresh migrated database with the demo, served on a loopback port, so the fake WeChat
    server can push callbacks to it (tests/notify, tests/village)."""
    import threading

    from werkzeug.serving import make_server

    from core.db import db as _db
    from core.db import write_intent

    app = make_app(fresh_url, **fake_wechat.config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # server_close() then waits for request threads still tearing down (their database connections must be
    # back in the pool before the engine is disposed, or they are garbage-collected open).
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake_wechat.reset()
    with app.app_context(), write_intent():
        settle_demo_outbox(_db.session)
        _db.session.commit()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)
    with app.app_context():
        _db.engine.dispose()
