"""Benchmark: deliver N WeCom messages (one per grid worker of a large district) through the outbox and the
dispatcher to the fake WeChat server over loopback, against a floor measured in the same run: a bare HTTP
POST loop to the same fake endpoint with the same concurrency (one worker).

    .venv/bin/python bench/notify.py [--messages 3000] [--engine sqlite|postgresql]

Prints throughputs and the ratio dispatcher / bare loop (target ≥ 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEDIATION_ENV", "test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fake(port: int) -> subprocess.Popen:
    env = {**os.environ, "MEDIATION_ENV": "development", "DATABASE_URL": "sqlite:///:memory:"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notify", "fake-wechat", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests

    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/_fake/messages", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("fake WeChat did not start")


def database_url(engine: str, tmp: str) -> str:
    if engine == "postgresql":
        import psycopg

        name = f"mdt_bench_{os.getpid()}"
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    return f"sqlite:///{tmp}/bench.db"


def bare_loop(base: str, n: int, corp: dict) -> float:
    """Floor: the same requests, sent by a plain requests.Session loop."""
    import requests

    s = requests.Session()
    token = s.get(f"{base}/work/cgi-bin/gettoken", params={"corpid": corp["corpid"],
                                                            "corpsecret": corp["corpsecret"]}).json()["access_token"]
    started = time.perf_counter()
    for i in range(n):
        body = {"touser": f"bench.g{i}", "msgtype": "textcard", "agentid": corp["agentid"],
                "textcard": {"title": "新交办事项", "description": f"请办理 floor {i}", "url": "http://x/m/",
                             "btntxt": "详情"}, "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
        r = s.post(f"{base}/work/cgi-bin/message/send", params={"access_token": token},
                   data=json.dumps(body, ensure_ascii=False).encode())
        assert r.json()["errcode"] == 0, r.text
    return n / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    n = args.messages
    port = free_port()
    fake = start_fake(port)
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        corp = requests.get(f"{base}/_fake/seed", timeout=5).json()["work"]
        requests.post(f"{base}/_fake/seed", json={"work": {"users": [f"bench.g{i}" for i in range(n)]}}, timeout=30)
        with tempfile.TemporaryDirectory() as tmp:
            from flask_migrate import upgrade
            from sqlalchemy import insert

            from core.accounts.models import User
            from core.app import create_app
            from core.db import db, utcnow, write_intent
            from notify import dispatcher
            from notify.models import Binding, Preference
            from notify.outbox import enqueue

            app = create_app({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(args.engine, tmp),
                              "MP_API_BASE": f"{base}/mp/cgi-bin/", "WECOM_API_BASE": f"{base}/work/cgi-bin/",
                              "AUDIT_GUARD": False, "NOTIFY_BATCH": 100, "NOTIFY_COALESCE_THRESHOLD": 10**6,
                              "NOTIFY_RATE_PER_MINUTE": 10**6})
            with app.app_context():
                upgrade()
                with write_intent():
                    now = utcnow()
                    db.session.execute(insert(User), [
                        {"username": f"bench.g{i}", "display_name": f"网格员{i}", "password_hash": "x",
                         "password_changed_at": now, "must_change_password": False, "is_active": True,
                         "created_at": now, "updated_at": now} for i in range(n)])
                    users = db.session.scalars(db.select(User).order_by(User.id)).all()
                    db.session.execute(insert(Binding), [
                        {"user_id": u.id, "platform": "wecom", "external_id": u.username, "external_index": u.username,
                         "state": "verified", "created_at": now, "updated_at": now} for u in users])
                    db.session.execute(insert(Preference), [
                        {"user_id": u.id, "channels": ["wecom"], "quiet_start": "00:00", "quiet_end": "00:00",
                         "muted_events": []} for u in users])
                    t0 = time.perf_counter()
                    for u in users:
                        enqueue("case.assigned", u, {"title": "新交办事项", "body": "请于三日内办理", "url": "/m/"},
                                key=f"bench:{u.id}")
                    db.session.commit()
                    enqueue_rate = n / (time.perf_counter() - t0)
                floor = bare_loop(base, min(n, 1000), corp)
                requests.post(f"{base}/_fake/reset", json={}, timeout=5)
                t1 = time.perf_counter()
                handled = dispatcher.drain("bench")
                elapsed = time.perf_counter() - t1
                stored = requests.get(f"{base}/_fake/messages", params={"platform": "work"}, timeout=30).json()["count"]
                db.engine.dispose()
        rate = handled / elapsed
        print(f"engine={args.engine} messages={n} handled={handled} stored_by_fake={stored}")
        print(f"enqueue: {enqueue_rate:,.0f} msg/s")
        print(f"floor (bare POST loop): {floor:,.0f} msg/s")
        print(f"dispatcher: {rate:,.0f} msg/s ({elapsed:.1f} s)")
        print(f"ratio dispatcher/floor: {rate / floor:.2f} (target >= 0.5)")
        return 0 if stored == n else 1
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    sys.exit(main())
