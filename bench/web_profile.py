"""Where a slow page of bench/web.py spends its time: the page run in-process (Flask test client, the app as
bench/floor_app.py builds it, production settings and the generator's keys), signed in through the login form,
with every SQL statement timed and the Python side profiled.

    .venv/bin/python bench/web_profile.py --database-url sqlite:////tmp/copy.db --user center.li \\
        --path /center/ [--repeat 5] [--explain]

It signs in (writes a session row): point it at a scratch copy, never at a shared data set. Prints the
statements per request, SQL time vs. total, the slowest statements (with EXPLAIN QUERY PLAN on SQLite with
``--explain``) and the top functions by cumulative time. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.keys import server_env, sign_in_with_passwords  # noqa: E402
from bench.web_client import CSRF_RE, PASSWORD  # noqa: E402
from bench.web_intake import resident_id  # noqa: E402


def build_app(url: str):
    sign_in_with_passwords(url)
    os.environ.update({"DATABASE_URL": url, "MEDIATION_ENV": "production", **server_env(url),
                       "MEDIATION_SESSION_COOKIE_SECURE": "false"})
    from bench.floor_app import app

    return app


def sign_in(app, username: str):
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert r.status_code == 302, r.status_code
    return client


class SqlTimer:
    def __init__(self):
        self.rows: list[tuple[float, str, object]] = []
        self.on = False

    def install(self, engine):
        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            start = conn.info["t0"].pop()
            if self.on:
                self.rows.append(((time.perf_counter() - start) * 1000, statement, params))


def _shape(sql: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\?(, \?)+", "?…", sql)).strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--path", required=True, help="GET this path (or POST with --form k=v …)")
    parser.add_argument("--form", nargs="*", help="POST these fields (the CSRF token is added; {uuid}, {rid}, {phone} "
                                                  "in a value become a fresh hex id, 居民身份证 number, mobile)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime …")
    parser.add_argument("--only", help="list only functions whose file matches this regex (e.g. /work/main/(center|core)/)")
    args = parser.parse_args(argv)

    rng = random.Random(7)
    app = build_app(args.database_url)
    from core.db import db

    timer = SqlTimer()
    with app.app_context():
        timer.install(db.engine)
    client = sign_in(app, args.user)

    def once():
        if args.form is None:
            return client.get(args.path)
        page = client.get("/account").get_data(as_text=True)
        data = {k: v.replace("{uuid}", uuid.uuid4().hex).replace("{rid}", resident_id(rng))
                .replace("{phone}", f"139{rng.randrange(10**8):08d}")
                for k, v in (item.split("=", 1) for item in args.form)}
        data["csrf_token"] = CSRF_RE.search(page).group(1)
        return client.post(args.path, data=data)

    first = once()
    print(f"{args.user} {args.path}: status {first.status_code}, {len(first.data):,} bytes")
    timer.on = True
    started = time.perf_counter()
    for _ in range(args.repeat):
        once()
    plain = (time.perf_counter() - started) * 1000 / args.repeat
    sql_plain = sum(ms for ms, _s, _p in timer.rows) / args.repeat
    timer.rows.clear()
    print(f"unprofiled: {plain:.1f} ms per request, {sql_plain:.1f} ms of it in the database driver")
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(args.repeat):
        once()
    profile.disable()
    wall = (time.perf_counter() - started) * 1000 / args.repeat
    timer.on = False
    sql_ms = sum(ms for ms, _s, _p in timer.rows) / args.repeat
    print(f"per request: {wall:.1f} ms wall (profiled), {len(timer.rows) / args.repeat:.0f} SQL statements, "
          f"{sql_ms:.1f} ms in the database driver")
    by_shape: dict[str, list] = defaultdict(list)
    for ms, statement, params in timer.rows:
        by_shape[_shape(statement)].append((ms, statement, params))
    ranked = sorted(by_shape.items(), key=lambda kv: -sum(ms for ms, _s, _p in kv[1]))
    print("\nslowest statement shapes (total ms per request, count per request, max ms):")
    for shape, hits in ranked[:8]:
        total = sum(ms for ms, _s, _p in hits) / args.repeat
        print(f"  {total:8.1f} ms  x{len(hits) / args.repeat:<5.0f} max {max(h[0] for h in hits):7.1f}  {shape[:600]}")
        if args.explain and shape.upper().startswith(("SELECT", "WITH")):
            _ms, statement, params = max(hits, key=lambda h: h[0])
            with app.app_context():
                raw = db.engine.raw_connection()
                try:
                    for row in raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, params or ()):
                        print(f"            plan: {row[-1]}")
                finally:
                    raw.close()
    print()
    stats = pstats.Stats(profile)
    stats.sort_stats(args.sort).print_stats(*([args.only] if args.only else []), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
