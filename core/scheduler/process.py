"""The `flask jobs run` process: wait for the scheduler lock, then fire every registered job on APScheduler."""

from __future__ import annotations

import concurrent.futures
import fcntl
import logging
import signal
import threading
import time
from pathlib import Path

from apscheduler.executors.base import BaseExecutor
from apscheduler.executors.base import run_job as _apscheduler_run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db import advisory_lock_sql, db, is_postgresql
from core.scheduler.registry import SHANGHAI, registered_jobs, run_job, runner_name

logger = logging.getLogger(__name__)

#: Session-level advisory lock key (PostgreSQL advisory locks are per database): b"mdt:jobs" as an int64.
ADVISORY_LOCK_KEY = int.from_bytes(b"mdt:jobs", "big")


class _AtFireTime:
    """A view of an APScheduler job whose call also passes ``fire_time``."""

    def __init__(self, job, fire_time):
        self._job = job
        self.kwargs = {**job.kwargs, "fire_time": fire_time}

    def __getattr__(self, attr):
        return getattr(self._job, attr)

    def __str__(self):
        return str(self._job)


class FireTimeExecutor(BaseExecutor):
    """Thread-pool executor that calls each job with the run time it was scheduled for (``fire_time=``;
    APScheduler checks signatures at add_job, so job functions declare it with a default).

    APScheduler's own ``run_job`` still does the misfire check and produces the events.
    """

    def __init__(self, max_workers: int = 4):
        super().__init__()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="job")

    def _do_submit_job(self, job, run_times):
        alias, logger_name = job._jobstore_alias, self._logger.name

        def call():
            events = []
            for run_time in run_times:
                events += _apscheduler_run_job(_AtFireTime(job, run_time), alias, [run_time], logger_name)
            return events

        def done(future):
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(call).add_done_callback(done)

    def shutdown(self, wait=True):
        self._pool.shutdown(wait)


class FileLock:
    """Exclusive flock on a file next to the SQLite database; the OS releases it when the process dies."""

    def __init__(self, path: Path):
        self.path = path
        self._file = None

    def try_acquire(self) -> bool:
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{runner_name()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None

    def __str__(self) -> str:
        return f"file lock {self.path}"


class AdvisoryLock:
    """pg_try_advisory_lock on a dedicated connection kept open while the lock is held."""

    def __init__(self, engine, key: int = ADVISORY_LOCK_KEY):
        self.engine = engine
        self.key = key
        self._conn = None

    def try_acquire(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text(advisory_lock_sql(self.key))).scalar())
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:  # a session-level lock lives exactly as long as its session
            self._conn.execute(text("SELECT 1"))
        except Exception:
            logger.exception("scheduler lock connection failed")
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.invalidate()  # never hand a connection holding the lock back to the pool
            conn.close()

    def __str__(self) -> str:
        return f"PostgreSQL advisory lock {self.key}"


def make_lock(app) -> FileLock | AdvisoryLock:
    """The scheduler lock for the app's database (inside an app context)."""
    if is_postgresql():
        return AdvisoryLock(db.engine)
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return FileLock(Path(app.instance_path) / "scheduler.lock")
    return FileLock(Path(f"{database}-scheduler.lock"))


class LockLost(RuntimeError):
    """The PostgreSQL session holding the lock ended; another process may now fire jobs."""


def _fire(app, name, fire_time=None):
    # The default only satisfies APScheduler's signature check at add_job; FireTimeExecutor always passes it.
    run_job(app, name, fire_time)


def build_scheduler(app) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        timezone=SHANGHAI, executors={"default": FireTimeExecutor()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
    for spec in registered_jobs():
        scheduler.add_job(_fire, trigger=spec.trigger, args=(app, spec.name), id=spec.name, name=spec.name,
                          misfire_grace_time=spec.misfire_grace_time)
    return scheduler


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)  # unwinds through run_scheduler's finally blocks: scheduler stopped, lock released


def _stop_on_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def run_scheduler(app) -> None:
    """Wait for the lock, then fire every registered job until stopped (SIGTERM/Ctrl-C) or the lock is lost."""
    _stop_on_sigterm()
    me = runner_name()
    with app.app_context():
        poll = float(app.config.get("SCHEDULER_LOCK_POLL_SECONDS", 5))
        lock = make_lock(app)
        waiting = False
        while True:
            try:
                if lock.try_acquire():
                    break
            except Exception:
                logger.exception("scheduler %s could not try the lock", me)
            if not waiting:
                logger.info("scheduler %s waiting for the %s, which another process holds", me, lock)
                waiting = True
            time.sleep(poll)
        lost = threading.Event()
        try:
            logger.info("scheduler %s acquired the %s and fires %d job(s)", me, lock, len(registered_jobs()))
            scheduler = build_scheduler(app)

            def watch_lock():
                if not lock.still_held():
                    logger.error("scheduler %s lost the %s; stopping", me, lock)
                    lost.set()
                    scheduler.shutdown(wait=False)

            if isinstance(lock, AdvisoryLock):
                scheduler.add_executor(ThreadPoolExecutor(max_workers=1), "watch")
                scheduler.add_job(watch_lock, "interval", seconds=max(poll, 1), id="_lock_watch",
                                  executor="watch")
            try:
                scheduler.start()
            finally:
                if scheduler.running:
                    scheduler.shutdown(wait=False)
        finally:
            lock.release()
            logger.info("scheduler %s released the %s", me, lock)
        if lost.is_set():
            raise LockLost(str(lock))
