"""The job registry and one fire of a job: claim it (JobRun under UNIQUE(job, fire_time)), run it, record it."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, StatementError

from core.actor import Actor
from core.db import db, utcnow, write_intent
from core.jobs_models import JobOutcome, JobRun

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Interval jobs fire at anchor + k × interval, the same in every process and after every restart.
INTERVAL_ANCHOR = datetime(2000, 1, 1, tzinfo=SHANGHAI)
ERROR_MAX_CHARS = 2000


# --- registry -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[Actor], object]
    trigger: BaseTrigger
    description: str
    misfire_grace_time: int


_registry: dict[str, JobSpec] = {}


def _build_trigger(trigger: str, trigger_args: dict) -> BaseTrigger:
    if trigger == "interval":
        args = {"start_date": INTERVAL_ANCHOR, **trigger_args}
        built = IntervalTrigger(timezone=SHANGHAI, **args)
        seconds = built.interval.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise ValueError("interval jobs need a whole number of seconds (fire times are kept to the second)")
        return built
    if trigger == "cron":
        return CronTrigger(timezone=SHANGHAI, **trigger_args)
    raise ValueError(f"unknown trigger {trigger!r}; use 'interval' or 'cron'")


def register_job(name: str, func: Callable[[Actor], object], *, trigger: str = "interval", description: str,
                 misfire_grace_time: int = 300, **trigger_args) -> JobSpec:
    """Add a job to the schedule (features call this from init_app; repeated create_app calls are fine).

    ``trigger_args`` are APScheduler's: ``seconds=``/``minutes=``/``hours=`` for "interval",
    ``hour=``/``minute=``/``day_of_week=`` … for "cron", all in Asia/Shanghai.
    """
    if not name or len(name) > 64:
        raise ValueError("a job name is 1-64 characters (JobRun.job)")
    spec = JobSpec(name, func, _build_trigger(trigger, trigger_args), description, misfire_grace_time)
    existing = _registry.get(name)
    if existing is not None and _origin(existing.func) != _origin(func):
        raise ValueError(f"job {name!r} is already registered by {_origin(existing.func)}")
    _registry[name] = spec
    return spec


def _origin(func) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def unregister_job(name: str) -> None:
    """Remove a job (tests)."""
    _registry.pop(name, None)


def registered_jobs() -> list[JobSpec]:
    return list(_registry.values())


def get_job(name: str) -> JobSpec:
    return _registry[name]


# --- one fire -----------------------------------------------------------------------------------------

def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def normalise_fire_time(fire_time: datetime) -> datetime:
    if fire_time.tzinfo is None:
        raise ValueError("fire_time must be timezone-aware")
    return fire_time.astimezone(UTC).replace(microsecond=0)


def _error_text(exc: BaseException) -> str:
    # A statement error's text carries the bound parameters; keep the driver's message only.
    shown = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    return f"{type(shown).__name__}: {shown}"[:ERROR_MAX_CHARS]


def run_job(app, name: str, fire_time: datetime) -> str:
    """Run one fire of a registered job. Returns "ok", "failed" or "skipped" (already claimed).

    1. Claim the fire: insert JobRun(outcome=running) and commit, alone. UNIQUE(job, fire_time) → skip.
    2. Run ``func(Actor.system("job"))`` with write intent; its work and the "ok" outcome commit together.
    3. On an exception roll the work back and record "failed" with the error text.
    """
    spec = get_job(name)
    fire_time = normalise_fire_time(fire_time)
    with app.app_context():
        with write_intent():
            run = JobRun(job=name, fire_time=fire_time, started_at=utcnow(), outcome=JobOutcome.running,
                         runner=runner_name())
            db.session.add(run)
            try:
                db.session.flush()
                run_id = run.id
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                logger.info("job %s fire %s already claimed; skipped", name, fire_time.isoformat())
                return "skipped"
        started = time.monotonic()
        try:
            with write_intent():
                spec.func(Actor.system("job"))
                db.session.execute(update(JobRun).where(JobRun.id == run_id)
                                   .values(outcome=JobOutcome.ok, finished_at=utcnow()))
                db.session.commit()
        except Exception as exc:
            db.session.rollback()
            logger.exception("job %s fire %s failed", name, fire_time.isoformat())
            try:
                with write_intent():
                    db.session.execute(update(JobRun).where(JobRun.id == run_id).values(
                        outcome=JobOutcome.failed, finished_at=utcnow(), error=_error_text(exc)))
                    db.session.commit()
            except Exception:  # the database itself is failing; the row stays "running"
                db.session.rollback()
                logger.exception("job %s fire %s: could not record the failure", name, fire_time.isoformat())
            return "failed"
        logger.info("job %s fire %s ok in %.2fs", name, fire_time.isoformat(), time.monotonic() - started)
        return "ok"
