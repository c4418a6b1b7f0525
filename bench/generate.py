"""Generate a large data set for benchmarks: the D1 district.

    .venv/bin/python bench/generate.py --preset district [--cases 300000] [--database-url URL] [--seed N]
                                        [--today YYYY-MM-DD]

Builds one district the size of a real one (27 townships, 1,000 villages/communities, 3,000 grids, the demo's
logins with the demo password, a grid worker per grid) and ``--cases`` cases over four years with their whole
record: parties (encrypted, blind-indexed), events, deadlines in every state, documents, mediation, department
assignments, evaluations, follow-up visits, reviews, 督办 and audit rows (see bench/d1/). The schema comes from
the project's Alembic migrations; rows go in with SQLAlchemy Core ``insert()`` executemany in chunks, a few
large transactions. The same seed and ``--today`` give the same data set. Default target: the SQLite file
bench/out/d1.db (replaced on each run). Not part of ``make test``.

Check the result with ``bench/check_generated.py``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEDIATION_ENV", "development")
DEFAULT_DB = ROOT / "bench" / "out" / "d1.db"
PRESETS = {"district": {"cases": 300_000, "years": 4}}
ORG_TABLES = ["org_units", "departments", "users", "memberships", "audit_entries"]
CASE_TABLES = ["work_subjects", "cases", "case_parties", "case_terms", "case_deadlines", "case_documents", "case_service_records",
               "case_extensions", "case_mediation_sessions", "case_follow_ups", "case_evaluations", "case_reviews",
               "case_assignments", "case_supervisions", "case_events", "audit_entries"]
BATCH = 5000  # cases generated between two writes
COMMIT_EVERY = 50_000  # cases per transaction: a few large transactions, a WAL that stays a sane size


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="district")
    parser.add_argument("--cases", type=int, help="number of cases (default: the preset's)")
    parser.add_argument("--database-url", help=f"SQLAlchemy URL (default: sqlite:///{DEFAULT_DB})")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--today", type=date.fromisoformat, help="pin 'now' to 16:00 of this day (Asia/Shanghai)")
    parser.add_argument("--single-process", action="store_true",
                        help="generate and write in one process (default: a forked child generates)")
    return parser.parse_args(argv)


def prepare_target(url: str | None) -> str:
    """The default file is ours to replace; any other target must be empty (checked after the upgrade)."""
    if url:
        return url
    DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DEFAULT_DB}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{DEFAULT_DB}"


def main(argv=None) -> int:
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    n_cases = args.cases if args.cases is not None else preset["cases"]
    url = prepare_target(args.database_url)
    started = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(name: str, since: float) -> float:
        now = time.perf_counter()
        marks[name] = now - since
        return now

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from bench.keys import data_set_keys
    from core.app import create_app

    keys = data_set_keys(url, create=True)  # the set's own keys: its server runs as production (bench/keys.py)
    app = create_app({"MEDIATION_ENV": "development", "SQLALCHEMY_DATABASE_URI": url, "AUDIT_GUARD": False,
                      **keys})
    with app.app_context():
        from core.db import db

        t = time.perf_counter()
        upgrade()  # the project's migrations, as `flask db upgrade` runs them
        t = mark("schema (alembic upgrade)", t)
        from core.org.models import OrgUnit

        if db.session.scalar(select(func.count()).select_from(OrgUnit)):
            print(f"refusing: {url} already holds an org tree; generate into an empty database", file=sys.stderr)
            return 2
        db.session.rollback()
        _seed_calendar()
        t = mark("holiday table", t)
        summary = _load(args, n_cases, preset, marks)
        t = time.perf_counter()
        _after_load(marks)
        marks["total"] = time.perf_counter() - started
        marks["total CPU of this process"] = time.process_time()
        _report(url, n_cases, summary, marks)
        db.engine.dispose()
    return 0


def _seed_calendar() -> None:
    """The holiday table from chinese-calendar, through the project's own operation (it is small)."""
    from core.actor import Actor
    from core.calendar import seed_from_chinese_calendar
    from core.db import db, write_intent

    with write_intent():
        seed_from_chinese_calendar(Actor.system("cli"))
        db.session.commit()


def _load(args, n_cases: int, preset: dict, marks: dict) -> dict:
    from bench.d1 import org as d1_org
    from bench.d1.cases import District
    from bench.d1.clock import Clock
    from bench.d1.people import People
    from bench.d1.writer import Rows, loading_pragmas, restore_pragmas
    from core.accounts.passwords import hash_password
    from core.calendar.days import SHANGHAI
    from core.db import db, write_intent
    from core.demo import DEMO_PASSWORD

    rng = random.Random(args.seed)
    now = (datetime.combine(args.today, datetime.min.time()).replace(hour=16) if args.today
           else datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0))
    rows = Rows(sorted(set(ORG_TABLES + CASE_TABLES + ["case_counters"])))
    t = time.perf_counter()
    with write_intent(), db.engine.connect() as conn:
        loading_pragmas(conn)
        rows.start_ids(conn)
        conn.commit()
        trans = conn.begin()
        # One argon2 hash for every account (argon2 is slow on purpose), like core.demo.
        org = d1_org.build(rows, rng, password_hash=hash_password(DEMO_PASSWORD), now=now)
        rows.flush(conn, ORG_TABLES)
        trans.commit()
        marks["org tree, departments, users"] = time.perf_counter() - t
        print(f"[d1] org: {len(org.townships)} townships, {sum(map(len, org.villages.values()))} villages, "
              f"{sum(map(len, org.grids.values()))} grids, {len(org.usernames)} users, {org.memberships} posts "
              f"({marks['org tree, departments, users']:.1f} s)", flush=True)

        t = time.perf_counter()
        district = District(rows, org, rng, People(rng), Clock(rows, now.date()), now=now, years=preset["years"])
        db.session.remove()  # the calendar was read through the session: let go of its (write) transaction
        times = district.received_times(n_cases)
        batches = (_produce_here if args.single_process else _produce_in_child)(district, rows, times,
                                                                               conn.dialect)
        trans, write_s, done, info = conn.begin(), 0.0, 0, {}
        for kind, done, payload in batches:
            if kind == "done":
                info = payload
                break
            w = time.perf_counter()
            rows.write(conn, payload)
            if done % COMMIT_EVERY < BATCH or done == n_cases:  # crossed a commit boundary
                trans.commit()
                trans = conn.begin()
                elapsed = time.perf_counter() - t
                print(f"[d1] {done:>7} cases  {rows.written['case_events']:>8} events  "
                      f"{rows.written['audit_entries']:>8} audit rows  {elapsed:6.1f} s "
                      f"({done / elapsed:,.0f} cases/s; writing {write_s:.0f} s)", flush=True)
            write_s += time.perf_counter() - w
        for year, last in sorted(info["sequence"].items()):
            rows.add("case_counters", district_id=org.district.id, year=year, last=last)
        rows.flush(conn, ["case_counters"])
        trans.commit()
        restore_pragmas(conn)
        marks["cases (generate + write)"] = time.perf_counter() - t
        marks["  of which writing (this process)"] = write_s
        if not args.single_process:
            marks["  generating (child, CPU)"] = info["cpu"]
    return {"now": now, **info}


def _generate(district, rows, times, dialect):
    """Build the cases one by one; every BATCH cases hand over the rows made (``Rows.take``)."""
    n = len(times)
    for i, received in enumerate(times, start=1):
        district.build(received)
        if i % BATCH == 0 or i == n:
            yield "rows", i, rows.take(CASE_TABLES, dialect)
    yield "done", n, {"sequence": dict(district.sequence), "encryptions": district.people.encryptions,
                      "repeats": district.counts["repeats"], "accusations": district.counts["accusations"],
                      "cpu": time.process_time()}


def _produce_here(district, rows, times, dialect):
    return _generate(district, rows, times, dialect)


def _produce_in_child(district, rows, times, dialect):
    """The same batches made by a forked child while this process writes the previous one: generating and
    writing each take about half the time, and the machine has two cores. The child inherits everything
    built so far (org, calendar, crypto provider, the seeded generator), so the data set is the same as
    with --single-process; it never touches the database. A pipe carries one batch at a time (backpressure)."""
    import multiprocessing
    import traceback

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child():
        receive.close()
        try:
            for message in _generate(district, rows, times, dialect):
                send.send(message)
        except BaseException:  # noqa: BLE001 - reported to the parent, which fails loudly
            send.send(("error", 0, traceback.format_exc()))
        finally:
            send.close()

    process = ctx.Process(target=child, daemon=True)
    process.start()
    send.close()
    try:
        while True:
            kind, done, payload = receive.recv()
            if kind == "error":
                raise RuntimeError(f"the generating process failed:\n{payload}")
            yield kind, done, payload
            if kind == "done":
                break
    finally:
        receive.close()
        process.join(timeout=30)


def _after_load(marks: dict) -> None:
    """The scope table (if the lead's center.cases.reach exists yet), then planner statistics."""
    from bench.d1.writer import analyze, broken_references, checkpoint, fix_sequences
    from core.db import db, write_intent

    t = time.perf_counter()
    try:
        from center.cases import reach
    except ImportError:
        reach = None
        print("[d1] note: center.cases.reach does not exist yet — case_reach not rebuilt", flush=True)
    if reach is not None:
        with write_intent():
            made = reach.rebuild(db.session)
            db.session.commit()
        marks["case_reach rebuild"] = time.perf_counter() - t
        print(f"[d1] case_reach rebuilt: {made} rows ({marks['case_reach rebuild']:.1f} s)", flush=True)
    t = time.perf_counter()
    with db.engine.connect() as conn:
        broken = broken_references(conn)
    if broken:
        raise SystemExit(f"[d1] broken foreign keys after the load (table, rowid, parent, fk): {broken}")
    marks["foreign_key_check"] = time.perf_counter() - t
    t = time.perf_counter()
    with write_intent(), db.engine.begin() as conn:
        fix_sequences(conn, sorted(set(ORG_TABLES + CASE_TABLES)))
        analyze(conn)
    with db.engine.connect() as conn:
        checkpoint(conn)
    marks["ANALYZE"] = time.perf_counter() - t


def _report(url: str, n_cases: int, summary: dict, marks: dict) -> None:
    from bench.d1.writer import count_rows
    from core.db import db

    tables = ["org_units", "departments", "users", "memberships", *CASE_TABLES[:-1], "case_counters", "case_reach",
              "audit_entries", "calendar_days"]
    with db.engine.connect() as conn:
        present = [t for t in tables if t in db.metadata.tables]
        counts = count_rows(conn, present)
    print("\n[d1] rows per table")
    for name, count in counts.items():
        print(f"  {name:<26} {count:>10,}")
    print(f"  {'(total)':<26} {sum(counts.values()):>10,}")
    cases = counts.get("cases") or 1
    print(f"[d1] {counts.get('case_events', 0) / cases:.2f} events per case; {summary['repeats']:,} repeat petitions; "
          f"{summary['accusations']:,} 检举控告; {summary['encryptions']:,} encryptions; now = {summary['now']}")
    print("[d1] seconds")
    for name, seconds in marks.items():
        print(f"  {name:<32} {seconds:8.1f}")
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
        print(f"[d1] {path}: {size / 2**20:,.0f} MiB")
    print(f"[d1] {n_cases:,} cases; log in as qs.staff / the demo password (bench/check_generated.py checks it)")


if __name__ == "__main__":
    sys.exit(main())
