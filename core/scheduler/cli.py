"""`flask jobs list` and `flask jobs run`."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core.db import db
from core.jobs_models import JobRun
from core.scheduler.process import LockLost, run_scheduler
from core.scheduler.registry import SHANGHAI, registered_jobs

jobs_cli = AppGroup("jobs", help="定时任务")


def _show(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


@jobs_cli.command("list")
def jobs_list():
    """列出全部定时任务、触发规则、下次运行时间（北京时间）和最近一次运行。"""
    jobs = registered_jobs()
    if not jobs:
        click.echo("没有登记的定时任务。")
        return
    now = datetime.now(SHANGHAI)
    click.echo(f"定时任务 {len(jobs)} 个（时间均为北京时间）")
    for spec in jobs:
        last = db.session.scalar(select(JobRun).where(JobRun.job == spec.name)
                                 .order_by(JobRun.fire_time.desc()).limit(1))
        last_text = f"{_show(last.fire_time)} {last.outcome}" if last else "—"
        next_text = _show(spec.trigger.get_next_fire_time(None, now))
        click.echo(f"{spec.name:<36} {str(spec.trigger):<40} 下次 {next_text}  最近 {last_text}")
        click.echo(f"    {spec.description}")


@jobs_cli.command("run")
def jobs_run():
    """运行定时任务进程（全系统只有一个在执行；其余等待接替）。"""
    try:
        run_scheduler(current_app._get_current_object())
    except LockLost as exc:
        raise click.ClickException(f"调度锁已丢失（{exc}），进程退出") from exc


def init_app(app) -> None:
    from core import hooks

    if "jobs" not in app.cli.commands:
        app.cli.add_command(jobs_cli)
    hooks.register_process("scheduler", ["jobs", "run"])
    from core.scheduler.registry import register_job

    register_job("db.statistics", refresh_planner_statistics, trigger="cron", hour=3, minute=20,
                 description="更新数据库统计信息，供查询规划使用（ANALYZE / PRAGMA optimize）")


def refresh_planner_statistics(actor) -> str:
    """The nightly job: the planner's statistics follow the registry as it grows."""
    from core.db import db, refresh_statistics

    refresh_statistics(db.session.connection())  # in the run's transaction, committed with its outcome
    return "统计信息已更新"
