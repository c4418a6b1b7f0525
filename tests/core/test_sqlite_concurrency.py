"""SQLite under concurrent writers: WAL, foreign keys, busy timeout, and BEGIN IMMEDIATE for every write
request, so that two processes doing read-then-write requests never meet "database is locked"."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError

from tests import dbutil
from tests.conftest import csrf_from, login, make_app

pytestmark = pytest.mark.skipif(dbutil.ENGINE != "sqlite", reason="SQLite only")

ROOT = Path(__file__).resolve().parents[2]
LOCKED = "database is locked"


def _dispose(application):
    from core.db import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def shared_url(tmp_path_factory, migrated_template):
    """One migrated SQLite file with the demo for the whole module (the tests find their unit by code, so
    renaming it in one test does not disturb another): a copy of the session's template."""
    url = dbutil.copy_database(migrated_template, tmp_path_factory.mktemp("concurrency"))
    yield url
    dbutil.drop_database(url)


def _unit(application) -> tuple[int, str]:
    from core.db import db

    with application.app_context():
        row = db.session.execute(text("SELECT id, code FROM org_units WHERE code = "
                                      "(SELECT code FROM org_units WHERE kind = 'village' ORDER BY code LIMIT 1)")).one()
        db.session.remove()
    return row[0], row[1]


# --- pragmas --------------------------------------------------------------------------------------------------

def test_wal_foreign_keys_and_busy_timeout(shared_url):
    from core.db import db

    application = make_app(shared_url)
    try:
        with application.app_context(), db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == application.config[
                "SQLITE_BUSY_TIMEOUT_MS"]
            conn.rollback()
            # Foreign keys are enforced, not only declared.
            with pytest.raises(IntegrityError), conn.begin():
                conn.execute(text("INSERT INTO memberships (user_id, role, unit_id, status, created_at, "
                                  "updated_at) VALUES (999999, 'grid_worker', 999999, 'active', "
                                  "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    finally:
        _dispose(application)


# --- BEGIN IMMEDIATE for writes, deferred BEGIN for reads ------------------------------------------------------

def test_write_requests_begin_immediate_and_reads_deferred(shared_url):
    from core.db import db

    application = make_app(shared_url, SESSION_TOUCH_SECONDS=0)  # every request also touches its session
    statements: list[tuple[int, str]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((id(cursor.connection), " ".join(statement.split())))

    try:
        with application.app_context():
            engine = db.engine
        unit_id, code = _unit(application)
        c = application.test_client()
        assert login(c, "admin").status_code == 302
        event.listen(engine, "before_cursor_execute", capture)

        page = c.get(f"/admin/org/{unit_id}/edit")
        assert page.status_code == 200
        get_log = list(statements)
        statements.clear()
        response = c.post(f"/admin/org/{unit_id}/edit", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "code": code, "name": "改名后的村",
            "center_name": ""})
        assert response.status_code == 302
        post_log = list(statements)
        event.remove(engine, "before_cursor_execute", capture)
    finally:
        _dispose(application)

    assert _begin_before(get_log, "FROM org_units") == "BEGIN"
    assert _begin_before(get_log, "UPDATE web_sessions") == "BEGIN IMMEDIATE"  # a GET's own short write
    assert _begin_before(post_log, "FROM org_units") == "BEGIN IMMEDIATE"
    assert _begin_before(post_log, "UPDATE org_units") == "BEGIN IMMEDIATE"
    assert _begin_before(post_log, "INSERT INTO audit_entries") == "BEGIN IMMEDIATE"


def _begin_before(log, fragment):
    """The BEGIN that opened the transaction in which the first statement containing ``fragment`` ran."""
    index = next(i for i, (_, s) in enumerate(log) if fragment in s)
    connection = log[index][0]
    for conn, statement in reversed(log[:index]):
        if conn == connection and statement.startswith("BEGIN"):
            return statement
    raise AssertionError(f"no BEGIN before {fragment!r}")


# --- two processes, concurrent read-then-write requests --------------------------------------------------------

THREADS = 4
ITERATIONS = 13  # 2 processes x 4 threads x 13 = 104 write requests


def _worker(url: str, worker_no: int, threads: int, iterations: int) -> None:
    """Runs in its own process: its own app on the shared SQLite file, several threads of test clients.
    Prints one JSON line: every (what, status) and any log line mentioning a lock."""
    os.environ["MEDIATION_ENV"] = "test"
    # Many failed sign-ins from one address is what the address limit throttles (tests/core/test_abuse_limits):
    # here they are load, not an attack — their counter writes still contend for the lock like the rest.
    application = make_app(url, RATE_LIMITS={"login.address": [100000, 900]})
    problems: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            text_ = record.getMessage() + (logging.Formatter().formatException(record.exc_info)
                                           if record.exc_info else "")
            if LOCKED in text_ or record.levelno >= logging.ERROR:
                problems.append(text_[-500:])

    logging.getLogger().addHandler(Catch())
    unit_id, code = _unit(application)

    results: list[tuple[str, int, bool]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def note(what, response):
        body = response.get_data(as_text=True)
        with lock:
            results.append((what, response.status_code, LOCKED in body))

    def admin_edits(t):
        c = application.test_client()
        assert login(c, "admin").status_code == 302
        start.wait(timeout=60)
        for i in range(iterations):
            page = c.get(f"/admin/org/{unit_id}/edit")
            note("edit.get", page)
            response = c.post(f"/admin/org/{unit_id}/edit", data={
                "csrf_token": csrf_from(page.get_data(as_text=True)), "code": code,
                "name": f"并发改名-{worker_no}-{t}-{i}", "center_name": ""})
            note("edit.post", response)

    def secadmin_unlocks(t):
        c = application.test_client()
        anonymous = application.test_client()
        assert login(c, "secadmin").status_code == 302
        start.wait(timeout=60)
        for i in range(iterations):
            ghost = f"ghost-{worker_no}-{t}-{i}"
            note("login.failed", login(anonymous, ghost, "Wrong#Pass1"))
            page = c.get("/admin/security")
            note("security.get", page)
            response = c.post("/admin/security/unlock", data={
                "csrf_token": csrf_from(page.get_data(as_text=True)), "username": ghost})
            note("unlock.post", response)

    errors: list[str] = []

    def run(t):
        try:
            (admin_edits if t % 2 == 0 else secadmin_unlocks)(t)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            errors.append(repr(exc))

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    _dispose(application)
    print(json.dumps({"results": results, "problems": problems, "errors": errors}))


EXPECTED = {"edit.get": 200, "edit.post": 302, "login.failed": 401, "security.get": 200, "unlock.post": 302}


@pytest.mark.slow
def test_two_processes_of_read_then_write_requests(shared_url):
    code = (f"from tests.core.test_sqlite_concurrency import _worker; "
            f"_worker({shared_url!r}, {{n}}, {THREADS}, {ITERATIONS})")
    env = {**os.environ, "MEDIATION_ENV": "test", "PYTHONDONTWRITEBYTECODE": "1"}
    actions = ("org.unit_updated", "login.unlocked", "login.failed")
    before = _audit_counts(shared_url, actions)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", code.replace("{n}", str(n))], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"worker timed out: {err[-2000:]}")
        assert proc.returncode == 0, err[-3000:]
        assert LOCKED not in err, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.monotonic() - started

    writes = 0
    for output in outputs:
        assert output["errors"] == []
        assert output["problems"] == []
        for what, status, locked in output["results"]:
            assert not locked, what
            assert status == EXPECTED[what], (what, status)
        writes += sum(1 for what, _, _ in output["results"] if what in ("edit.post", "unlock.post"))
    assert writes == 2 * THREADS * ITERATIONS

    # No write was lost: one audit row per successful write, and every ghost lock was lifted.
    edits = sum(1 for o in outputs for what, _, _ in o["results"] if what == "edit.post")
    unlocks = writes - edits
    after = _audit_counts(shared_url, actions)
    assert after["org.unit_updated"] - before["org.unit_updated"] == edits
    assert after["login.unlocked"] - before["login.unlocked"] == unlocks
    assert after["login.failed"] - before["login.failed"] == unlocks
    engine = create_engine(shared_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM login_throttles WHERE username LIKE 'ghost-%'")
                                ).scalar() == 0
    finally:
        engine.dispose()
    assert elapsed < 120


def _audit_counts(url, actions) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {a: conn.execute(text("SELECT count(*) FROM audit_entries WHERE action = :a"), {"a": a}).scalar()
                    for a in actions}
    finally:
        engine.dispose()
