"""Crash safety of the dispatcher: 1,000 notifications, the worker process SIGKILLed mid-batch again and
again — every notification delivered exactly once as the platform sees it (its de-duplication absorbs our
resends). On PostgreSQL, two workers drain one outbox without sending anything twice."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, insert, select

from core.actor import Actor
from core.audit.operations import record
from core.db import db as _db
from core.db import utcnow, write_intent
from notify.models import Binding, Delivery, DeliveryStatus, Notification, Preference
from tests import dbutil
from tests.conftest import make_app

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
N = 1000


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def fake_process():
    port = _free_port()
    env = {**os.environ, "MEDIATION_ENV": "test", "DATABASE_URL": "sqlite://"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notify", "fake-wechat", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(f"{base}/_fake/messages", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        requests.post(f"{base}/_fake/seed", json={"work": {"users": [f"crash.u{i}" for i in range(N)]}}, timeout=10)
        yield base
    finally:
        proc.kill()
        proc.wait(10)


def _seed_outbox(url, base):
    from core.accounts.models import User
    from notify.outbox import enqueue

    app = make_app(url, WECOM_API_BASE=f"{base}/work/cgi-bin/", MP_API_BASE=f"{base}/mp/cgi-bin/")
    with app.app_context(), write_intent():
        from tests.conftest import settle_demo_outbox

        settle_demo_outbox(_db.session)  # only this test's messages go to the fake
        now = utcnow()
        _db.session.execute(insert(User), [
            {"username": f"crash.u{i}", "display_name": f"网格员{i}", "password_hash": "x", "password_changed_at": now,
             "must_change_password": False, "is_active": True, "created_at": now, "updated_at": now}
            for i in range(N)])
        users = _db.session.scalars(select(User).where(User.username.startswith("crash.u"))).all()
        _db.session.execute(insert(Binding), [
            {"user_id": u.id, "platform": "wecom", "external_id": u.username, "external_index": u.username,
             "state": "verified", "created_at": now, "updated_at": now} for u in users])
        _db.session.execute(insert(Preference), [
            {"user_id": u.id, "channels": ["wecom"], "quiet_start": "00:00", "quiet_end": "00:00",
             "muted_events": []} for u in users])
        for u in users:
            enqueue("case.assigned", u, {"title": "新交办事项", "body": "请办理", "url": "/m/"}, key=f"crash:{u.id}")
        record(Actor.system("cli"), "test.seeded", object_type="users", object_id=str(N))
        _db.session.commit()
    return app


def _worker(url, base, **extra_env):
    env = {**os.environ, "MEDIATION_ENV": "test", "DATABASE_URL": url,
           "MEDIATION_WECOM_API_BASE": f"{base}/work/cgi-bin/", "MEDIATION_MP_API_BASE": f"{base}/mp/cgi-bin/",
           "MEDIATION_NOTIFY_LEASE_SECONDS": "2", "MEDIATION_NOTIFY_POLL_SECONDS": "0.1",
           "MEDIATION_NOTIFY_BATCH": "40", "MEDIATION_NOTIFY_RATE_PER_MINUTE": "100000",
           "MEDIATION_NOTIFY_COALESCE_THRESHOLD": "100000", **extra_env}
    with open(os.environ.get("CRASH_WORKER_LOG", os.devnull), "ab") as log:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notify", "dispatch"], cwd=ROOT,
                                env=env, stdout=log, stderr=log)


def _sends(base) -> int:
    return requests.get(f"{base}/_fake/requests", params={"path": "/work/cgi-bin/message/send"},
                        timeout=30).json()["count"]


IN_FLIGHT = (DeliveryStatus.queued, DeliveryStatus.sending)


def _outbox(app) -> dict[str, int]:
    """This test's deliveries by status, and their attempts in all: the outbox's state as the tests see it."""
    with app.app_context():
        rows = _db.session.execute(
            select(Delivery.status, func.count(Delivery.id), func.coalesce(func.sum(Delivery.attempts), 0))
            .join(Notification).where(Notification.idempotency_key.startswith("crash:"))
            .group_by(Delivery.status)).all()
        _db.session.remove()
    state = {str(status): count for status, count, _ in rows}
    state["attempts"] = sum(int(attempts) for _, _, attempts in rows)
    return state


def _remaining(app) -> int:
    """Deliveries still to be sent (queued, or leased by a worker that may since have been killed)."""
    state = _outbox(app)
    return sum(state.get(str(s), 0) for s in IN_FLIGHT)


def _in_flight_rows(app, limit=5) -> list[tuple]:
    with app.app_context():
        rows = _db.session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts, Delivery.lease_until, Delivery.next_attempt_at,
                   Delivery.last_error).join(Notification)
            .where(Notification.idempotency_key.startswith("crash:"), Delivery.status.in_(IN_FLIGHT))
            .order_by(Delivery.id).limit(limit)).all()
        _db.session.remove()
    return [tuple(r) for r in rows]


#: A generous guard against a hung run only; the tests decide by state, never by how long a step took.
SAFETY_SECONDS = 600
#: Consecutive polls (0.25 s apart) that see the same outbox and the same count at the platform, once no
#: delivery is queued or leased any more: nothing is in flight (a send recorded late would change a count).
STILL_POLLS = 4


def _settle(app, base, workers) -> dict[str, int]:
    """Wait until no delivery is queued or leased and neither the outbox (every status and the attempts) nor
    the platform's count changes for STILL_POLLS polls while the workers run; then return the outbox's state.
    A slow machine only makes this wait longer. A delivery that ends dead or failed settles at once (and the
    caller's count fails); the safety guard fails the test, with the rows still in flight, only when a
    delivery stays queued for ten minutes with a worker running: that one was lost."""
    started, last, still = time.monotonic(), None, 0
    while True:
        state = (_outbox(app), _sends(base))
        still = still + 1 if state == last else 0
        last = state
        if not any(state[0].get(str(s)) for s in IN_FLIGHT) and still >= STILL_POLLS:
            return state[0]
        if any(w.poll() is not None for w in workers):
            raise AssertionError(f"a dispatcher exited on its own (codes {[w.poll() for w in workers]}), "
                                 f"outbox {state[0]}, sends {state[1]}")
        assert time.monotonic() - started < SAFETY_SECONDS, (
            f"still in flight after {SAFETY_SECONDS} s (lost): outbox {state[0]}, sends {state[1]}, "
            f"first rows {_in_flight_rows(app)}")
        time.sleep(0.25)


def test_sigkill_mid_batch_loses_nothing(fresh_url, fake_process):
    app = _seed_outbox(fresh_url, fake_process)
    kills, started = 0, time.monotonic()
    while _remaining(app) and kills < 8:
        proc = _worker(fresh_url, fake_process)
        # Kill it in the middle of sending: once the fake has seen this worker's first sends (a fixed sleep
        # would, on a loaded machine, often kill it while it is still starting up).
        seen = _sends(fake_process)
        while _sends(fake_process) < seen + 5 and proc.poll() is None and _remaining(app):
            assert time.monotonic() - started < SAFETY_SECONDS, "the workers never got to send"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        kills += 1
    # Then one worker that is left alone: wait until nothing changes any more, then count.
    proc = _worker(fresh_url, fake_process)
    try:
        outbox = _settle(app, fake_process, [proc])
    finally:
        proc.terminate()
        proc.wait(30)
    assert outbox == {"sent": N, "attempts": outbox["attempts"]}, f"after {kills} kills: {outbox}"
    stored = requests.get(f"{fake_process}/_fake/messages", params={"platform": "work"}, timeout=30).json()["count"]
    sends = requests.get(f"{fake_process}/_fake/requests", params={"path": "/work/cgi-bin/message/send"},
                         timeout=30).json()["count"]
    assert stored == N  # exactly one message per notification reached the platform's store
    # Resends (sent, then killed before the result was recorded) happen most runs and are absorbed by the
    # platform's duplicate check; the guarantee is above — nothing lost, nothing stored twice.
    assert sends >= N
    with app.app_context():
        _db.engine.dispose()


@pytest.mark.skipif(dbutil.ENGINE != "postgresql", reason="several workers need SKIP LOCKED (PostgreSQL)")
def test_two_workers_never_send_twice(fresh_url, fake_process):
    app = _seed_outbox(fresh_url, fake_process)
    workers = [_worker(fresh_url, fake_process, MEDIATION_NOTIFY_LEASE_SECONDS="120") for _ in range(2)]
    try:
        outbox = _settle(app, fake_process, workers)
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
    assert outbox == {"sent": N, "attempts": outbox["attempts"]}, outbox
    sends = requests.get(f"{fake_process}/_fake/requests", params={"path": "/work/cgi-bin/message/send"},
                         timeout=30).json()["count"]
    assert sends == N
    with app.app_context():
        _db.engine.dispose()
