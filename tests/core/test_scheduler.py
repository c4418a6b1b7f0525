"""The scheduler: job registry, run_job (each fire recorded and run once), the lock, and `flask jobs run` as
real processes — two on one database, one fires, the other takes over when the holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from core import scheduler
from core.audit.models import AuditEntry
from core.audit.operations import record
from core.jobs_models import JobOutcome, JobRun
from tests import dbutil

ROOT = Path(__file__).resolve().parents[2]
FIRE = datetime(2026, 3, 2, 0, 30, 5, tzinfo=UTC)


@pytest.fixture()
def jobs():
    """Register test jobs by name; they leave the registry after the test."""
    names = []

    def _register(name, func, **kw):
        kw.setdefault("description", "测试任务")
        if kw.get("trigger", "interval") == "interval":
            kw.setdefault("seconds", 60)
        spec = scheduler.register_job(name, func, **kw)
        names.append(name)
        return spec

    yield _register
    for name in names:
        scheduler.unregister_job(name)


def _runs(session, name):
    return list(session.scalars(select(JobRun).where(JobRun.job == name).order_by(JobRun.fire_time)))


# --- registry -----------------------------------------------------------------------------------------

def _noop(actor):
    return None


def _other(actor):
    return None


def test_register_job_is_idempotent_and_refuses_a_second_function(jobs):
    jobs("test.idem", _noop)
    jobs("test.idem", _noop)  # a second create_app registers the same function again
    assert [s.name for s in scheduler.registered_jobs()].count("test.idem") == 1
    with pytest.raises(ValueError, match="already registered"):
        scheduler.register_job("test.idem", _other, seconds=60, description="x")
    assert scheduler.get_job("test.idem").func is _noop


def test_register_job_validates_the_trigger_at_registration():
    with pytest.raises(ValueError, match="unknown trigger"):
        scheduler.register_job("test.bad", _noop, trigger="date", description="x")
    with pytest.raises(TypeError):
        scheduler.register_job("test.bad", _noop, trigger="interval", fortnights=1, description="x")
    with pytest.raises(ValueError, match="whole number of seconds"):
        scheduler.register_job("test.bad", _noop, seconds=0.5, description="x")
    with pytest.raises(ValueError):
        scheduler.register_job("test.bad", _noop, trigger="cron", hour=25, description="x")
    with pytest.raises(ValueError, match="1-64"):
        scheduler.register_job("test." + "x" * 60, _noop, seconds=60, description="x")
    assert "test.bad" not in {s.name for s in scheduler.registered_jobs()}


def test_interval_fire_times_sit_on_a_fixed_grid_whatever_the_start(jobs):
    """Two processes (or a restart) compute the same fire times, so UNIQUE(job, fire_time) can dedupe."""
    hourly = jobs("test.hourly", _noop, seconds=3600).trigger
    again = jobs("test.hourly_again", _noop, hours=1, seconds=0).trigger
    now = datetime(2026, 3, 2, 10, 17, 42, 123456, tzinfo=scheduler.SHANGHAI)
    first = hourly.get_next_fire_time(None, now)
    assert first == again.get_next_fire_time(None, now + timedelta(minutes=20))
    assert first == datetime(2026, 3, 2, 11, 0, 0, tzinfo=scheduler.SHANGHAI)
    every_5s = jobs("test.every_5s", _noop, seconds=5).trigger
    assert every_5s.get_next_fire_time(None, now) == datetime(2026, 3, 2, 10, 17, 45, tzinfo=scheduler.SHANGHAI)


# --- run_job ------------------------------------------------------------------------------------------

def test_run_job_records_ok_and_commits_the_work_with_the_outcome_once(app, db, jobs):
    calls = []

    def audited_job(actor):
        calls.append(actor)
        record(actor, "test.scheduler_job")

    jobs("test.ok", audited_job)
    commits = []
    listener = lambda session: commits.append(session)  # noqa: E731
    event.listen(Session, "after_commit", listener)
    try:
        assert scheduler.run_job(app, "test.ok", FIRE) == "ok"
    finally:
        event.remove(Session, "after_commit", listener)

    assert len(calls) == 1
    assert calls[0].is_system and calls[0].channel == "job"
    assert len(commits) == 2, "one commit claims the fire, one commits the work together with 'ok'"
    [run] = _runs(db.session, "test.ok")
    assert run.outcome == JobOutcome.ok
    assert run.fire_time == FIRE
    assert run.started_at <= run.finished_at
    assert run.error is None
    assert run.runner.endswith(f":{os.getpid()}")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "test.scheduler_job"))
    assert entry is not None and entry.actor_name == "system:job" and entry.channel == "job"


def test_run_job_failure_rolls_the_work_back_and_records_the_error(app, db, jobs):
    def broken_job(actor):
        record(actor, "test.scheduler_broken")
        raise RuntimeError("boom " + "x" * 5000)

    jobs("test.broken", broken_job)
    assert scheduler.run_job(app, "test.broken", FIRE) == "failed"

    [run] = _runs(db.session, "test.broken")
    assert run.outcome == JobOutcome.failed
    assert run.finished_at is not None
    assert run.error.startswith("RuntimeError: boom")
    assert len(run.error) == scheduler.ERROR_MAX_CHARS
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "test.scheduler_broken")) is None


def test_run_job_runs_a_fire_once_and_normalises_its_time(app, db, jobs):
    calls = []
    jobs("test.once", lambda actor: calls.append(actor))

    assert scheduler.run_job(app, "test.once", FIRE) == "ok"
    # The same instant written in Beijing time with sub-second noise is the same fire.
    same = (FIRE + timedelta(microseconds=730_000)).astimezone(scheduler.SHANGHAI)
    assert scheduler.run_job(app, "test.once", same) == "skipped"
    assert scheduler.run_job(app, "test.once", FIRE + timedelta(seconds=1)) == "ok"

    assert len(calls) == 2
    runs = _runs(db.session, "test.once")
    assert [r.fire_time for r in runs] == [FIRE, FIRE + timedelta(seconds=1)]
    assert all(r.outcome == JobOutcome.ok for r in runs)
    with pytest.raises(ValueError):
        scheduler.run_job(app, "test.once", datetime(2026, 3, 2, 8, 30))  # naive


def test_a_failed_fire_is_not_run_again(app, db, jobs):
    calls = []

    def flaky(actor):
        calls.append(actor)
        raise ValueError("first time")

    jobs("test.flaky", flaky)
    assert scheduler.run_job(app, "test.flaky", FIRE) == "failed"
    assert scheduler.run_job(app, "test.flaky", FIRE) == "skipped"
    assert len(calls) == 1


def test_executor_hands_the_job_its_scheduled_fire_time_not_now():
    from apscheduler.schedulers.background import BackgroundScheduler

    received = []
    done = threading.Event()
    past = (datetime.now(UTC) - timedelta(seconds=37)).replace(microsecond=0)
    sched = BackgroundScheduler(timezone=scheduler.SHANGHAI, executors={"default": scheduler.FireTimeExecutor()})
    # An hourly job whose first run is already 37 s late: it runs at once, for the time it was due.
    sched.add_job(lambda fire_time=None: (received.append(fire_time), done.set()), "interval", hours=1,
                  next_run_time=past, misfire_grace_time=300)
    sched.start()
    try:
        assert done.wait(5)
    finally:
        sched.shutdown(wait=True)
    assert received == [past]


def test_jobs_list_prints_every_job_with_its_trigger_next_fire_in_beijing_time_and_last_run(app, db, jobs):
    jobs("test.morning", _noop, trigger="cron", hour=8, minute=0, description="早八点提醒")
    jobs("test.every_minute", _noop, seconds=60)
    scheduler.run_job(app, "test.every_minute", FIRE)

    result = app.test_cli_runner().invoke(scheduler.jobs_cli, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    morning = next(line for line in lines if line.startswith("test.morning"))
    assert "cron[hour='8', minute='0']" in morning
    assert " 08:00:00" in morning.split("下次")[1].split("最近")[0]
    assert "早八点提醒" in result.output
    minute = next(line for line in lines if line.startswith("test.every_minute"))
    assert "interval[0:01:00]" in minute
    assert "最近 2026-03-02 08:30:05 ok" in minute  # FIRE (00:30:05 UTC) in Beijing time


# --- the lock -----------------------------------------------------------------------------------------

def test_the_lock_is_exclusive_and_released(app, tmp_path):
    from core.db import is_postgresql

    with app.app_context():
        first, second = scheduler.make_lock(app), scheduler.make_lock(app)
        if is_postgresql():
            assert isinstance(first, scheduler.AdvisoryLock)
        else:
            assert isinstance(first, scheduler.FileLock)
            assert str(first.path).endswith(".db-scheduler.lock")
        try:
            assert first.try_acquire()
            assert not second.try_acquire()
            assert first.still_held()
            first.release()
            assert second.try_acquire()
            assert not first.try_acquire()
        finally:
            first.release()
            second.release()

    path = tmp_path / "x.lock"
    a, b = scheduler.FileLock(path), scheduler.FileLock(path)
    try:
        assert a.try_acquire() and not b.try_acquire()
        assert path.read_text().strip() == scheduler.runner_name()
    finally:
        a.release()
        b.release()


# --- scheduler processes ------------------------------------------------------------------------------

SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from core.app import create_app
from core import scheduler

app = create_app({{"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": {url!r},
                  "SCHEDULER_LOCK_POLL_SECONDS": 0.2}})

def heartbeat(actor):
    return None  # writes nothing but its JobRun

scheduler.register_job("test.heartbeat", heartbeat, seconds=1, description="heartbeat")
scheduler.run_scheduler(app)
"""


class Proc:
    def __init__(self, script: Path, log: Path):
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "MEDIATION_ENV": "test", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=self._out, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def holds(self) -> bool:
        return "acquired the" in self.text()

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)
        self._out.close()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_one_process_fires_each_fire_once_and_another_takes_over(fresh_url, tmp_path):
    script = tmp_path / "sched.py"
    script.write_text(textwrap.dedent(SCRIPT.format(root=str(ROOT), url=fresh_url)))
    engine = create_engine(fresh_url)
    procs = []
    try:
        procs = [Proc(script, tmp_path / "a.log"), Proc(script, tmp_path / "b.log")]
        wait_for(lambda: any(p.holds() for p in procs), 30, "a scheduler to take the lock")
        wait_for(lambda: all("waiting" in p.text() or p.holds() for p in procs), 15, "the other to wait")

        def rows():
            with Session(engine) as session:
                return [(r.fire_time, r.runner, r.outcome) for r in _runs(session, "test.heartbeat")]

        wait_for(lambda: len(rows()) >= 4, 15, "four heartbeats")
        holder = next(p for p in procs if p.holds())
        other = next(p for p in procs if p is not holder)
        assert not other.holds(), "only one process may hold the lock"
        assert "waiting" in other.text()

        before = rows()
        fire_times = [f for f, _, _ in before]
        assert len(set(fire_times)) == len(fire_times)
        assert all(f.microsecond == 0 for f in fire_times)
        assert {runner.rsplit(":", 1)[1] for _, runner, _ in before} == {str(holder.pid)}
        assert all(outcome in (JobOutcome.ok, JobOutcome.running) for _, _, outcome in before)

        holder.popen.send_signal(signal.SIGKILL)
        holder.popen.wait(10)
        killed_at = datetime.now(UTC)
        wait_for(other.holds, 10, "the waiting scheduler to take over")
        wait_for(lambda: sum(1 for _, runner, _ in rows() if runner.endswith(f":{other.pid}")) >= 2, 10,
                 "heartbeats from the new holder")

        after = rows()
        fire_times = [f for f, _, _ in after]
        assert len(set(fire_times)) == len(fire_times)
        taken_over = [f for f, runner, _ in after if runner.endswith(f":{other.pid}")]
        assert min(taken_over) > max(f for f, _, _ in before)
        assert min(taken_over) - killed_at < timedelta(seconds=6)
        assert other.text().count("acquired the") == 1

        other.popen.send_signal(signal.SIGTERM)  # a graceful stop releases the lock and exits 0
        assert other.popen.wait(10) == 0
        assert "released the" in other.text()
    finally:
        for p in procs:
            p.stop()
        engine.dispose()


@pytest.mark.slow
@pytest.mark.skipif(dbutil.ENGINE != "postgresql", reason="advisory lock sessions exist on PostgreSQL only")
def test_a_scheduler_whose_lock_session_ends_stops(fresh_url, tmp_path):
    from sqlalchemy import text

    script = tmp_path / "sched.py"
    script.write_text(textwrap.dedent(SCRIPT.format(root=str(ROOT), url=fresh_url)))
    engine = create_engine(fresh_url)
    proc = None
    try:
        proc = Proc(script, tmp_path / "a.log")
        wait_for(proc.holds, 30, "the scheduler to take the lock")
        with engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).all()
        assert killed == [(True,)]
        assert proc.popen.wait(15) != 0
        assert "lost the" in proc.text()
    finally:
        if proc is not None:
            proc.stop()
        engine.dispose()
