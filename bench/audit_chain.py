"""The audit hash chain's cost (issue #13 item 2): time to seal and verify N audit rows, and audit-row intake with
and without a sealer running beside the writers (sealing is off the write path; this shows what it costs them).

    .venv/bin/python bench/audit_chain.py --rows 100000                      # a temp SQLite file
    .venv/bin/python bench/audit_chain.py --rows 100000 --database-url postgresql+psycopg://…/scratch   # emptied!
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/notify.py would otherwise shadow the notify package
os.environ.setdefault("MEDIATION_ENV", "test")


def _app(url: str):
    from core.app import create_app

    return create_app({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": url, "AUDIT_GUARD": False})


def _fill(db, rows: int) -> None:
    from sqlalchemy import insert

    from core.audit.models import AuditEntry

    # Written two hours ago: the sealer's look-back window (an hour before its head) then holds the recent intake
    # only, as on a running system, instead of the whole bulk load.
    now = datetime.now(UTC) - timedelta(hours=2)
    batch = [{"at": now, "actor_name": "bench", "action": "bench.fill", "result": "ok", "ip": "10.0.0.1",
              "request_id": "r" * 32, "channel": "web", "changed_fields": ["status", "note"]}] * 5000
    for _ in range(rows // 5000):
        db.session.execute(insert(AuditEntry.__table__), batch)
    db.session.commit()


def _intake(app, db, seconds: float, writers: int) -> int:
    """Transactions of one audit row each (what an intake request adds to the log), committed, for ``seconds``."""
    from core.actor import Actor
    from core.audit.operations import record
    from core.db import write_intent

    done = [0] * writers
    deadline = time.monotonic() + seconds

    def work(i):
        with app.app_context():
            while time.monotonic() < deadline:
                with write_intent():
                    record(Actor.system("bench"), "bench.intake")
                    db.session.commit()
                done[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def _sealer_process(url: str, stop) -> None:
    from core.audit import chain
    from core.db import db, write_intent

    app = _app(url)
    with app.app_context():
        while not stop.is_set():
            with write_intent():
                chain.seal()
                db.session.commit()
            stop.wait(1.0)  # far more often than the job's minute, to show the worst case
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=2)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='mdt-chain-')}/bench.db"
    app = _app(url)
    from flask_migrate import upgrade
    from sqlalchemy import text

    from core.audit import chain
    from core.db import db, write_intent

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        _fill(db, args.rows)
        started = time.monotonic()
        sealed = 0
        while True:  # as `flask audit seal`: one commit per 20,000 rows
            with write_intent():
                count = chain.seal(limit=20_000)
                db.session.commit()
            sealed += count
            if count < 20_000:
                break
        seal_s = time.monotonic() - started
        started = time.monotonic()
        outcome = chain.verify()
        verify_s = time.monotonic() - started
        db.session.rollback()
        print(f"{db.engine.dialect.name}: sealed {sealed} rows in {seal_s:.1f}s ({sealed / seal_s:.0f}/s); "
              f"verify {outcome.checked} in {verify_s:.1f}s, ok={outcome.ok}")
        started = time.monotonic()
        with write_intent():
            chain.seal()
            db.session.commit()
        print(f"an idle sealer run over {sealed} sealed rows: {1000 * (time.monotonic() - started):.0f} ms")

        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        # Alternating runs, since a shared machine's load drifts; the sealer runs in its own process, as the
        # scheduler does in production (not under the writers' GIL).
        for round_ in (1, 2):
            alone = _intake(app, db, args.seconds, args.writers)
            stop = spawn.Event()
            beside = spawn.Process(target=_sealer_process, args=(url, stop))
            beside.start()
            time.sleep(3)  # its start-up (create_app) is not what is measured
            together = _intake(app, db, args.seconds, args.writers)
            stop.set()
            beside.join()
            print(f"intake round {round_}, {args.writers} writers, {args.seconds:.0f}s each: "
                  f"{alone / args.seconds:.0f} tx/s alone, {together / args.seconds:.0f} tx/s with a sealer every "
                  f"second ({100 * (together - alone) / alone:+.1f}%)")
        db.engine.dispose()


if __name__ == "__main__":
    main()
