"""The scheduler: a registry of time-based jobs, ``run_job`` (each fire runs once) and ``flask jobs run``.

Features register their jobs from ``init_app``::

    register_job("cases.deadline_reminders", remind_overdue, trigger="cron", hour=8, minute=0,
                 description="提醒临期和超期事项")

A job is ``func(actor)``: thin and state-driven ("overdue cases not yet reminded"), it works through
operations and never commits; ``run_job`` owns the transaction.

Exactly one ``flask jobs run`` process fires jobs. It holds a lock for its whole life — a session-level
advisory lock on a dedicated PostgreSQL connection, or an exclusive ``flock`` on ``<database file>-scheduler.lock``
for SQLite — and the operating system (or PostgreSQL, when the session ends) releases it when the process dies,
so a second process waiting beside it takes over. The lock is never taken inside ``create_app``: every gunicorn
worker would otherwise run every job.

Each fire is claimed first: a ``JobRun(job, fire_time)`` row under ``UNIQUE(job, fire_time)`` is committed before
the job runs, so a fire another process already claimed is skipped. That only works if every process computes
the same fire times, hence two choices:

* interval triggers are anchored on a fixed grid (``INTERVAL_ANCHOR``, 2000-01-01 00:00 Beijing time) instead
  of "process start + interval", so an hourly job fires on the hour in every process and after every restart;
* the job receives its *scheduled* fire time, not "now". APScheduler 3 does not pass it to job functions, so
  jobs run on ``FireTimeExecutor``, a thread-pool executor that hands each job the run time the scheduler
  submitted it for (the fire time APScheduler itself logs and uses for misfire checks).

A process killed in the middle of a job leaves its JobRun "running"; that fire is not retried — the next fire
finds the same state and does the work, which is why jobs must be state-driven.
"""

from core.scheduler.cli import init_app, jobs_cli
from core.scheduler.process import (
    ADVISORY_LOCK_KEY,
    AdvisoryLock,
    FileLock,
    FireTimeExecutor,
    LockLost,
    build_scheduler,
    make_lock,
    run_scheduler,
)
from core.scheduler.registry import (
    ERROR_MAX_CHARS,
    INTERVAL_ANCHOR,
    SHANGHAI,
    JobSpec,
    get_job,
    normalise_fire_time,
    register_job,
    registered_jobs,
    run_job,
    runner_name,
    unregister_job,
)

__all__ = [
    "ADVISORY_LOCK_KEY", "ERROR_MAX_CHARS", "INTERVAL_ANCHOR", "SHANGHAI", "AdvisoryLock", "FileLock",
    "FireTimeExecutor", "JobSpec", "LockLost", "build_scheduler", "get_job", "init_app", "jobs_cli", "make_lock",
    "normalise_fire_time", "register_job", "registered_jobs", "run_job", "run_scheduler", "runner_name",
    "unregister_job",
]
