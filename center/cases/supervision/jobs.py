"""Scheduled jobs of the case registry: 督办 levels 1–3 (center.cases.supervision.operations), every morning."""

from __future__ import annotations

JOB_NAME = "cases.supervision"


def supervision_job(actor) -> dict[int, int]:
    """The daily 督办 scan as the system actor, for today's date in Asia/Shanghai. State-driven: a missed or
    repeated fire does the owed work once (each level is issued once per deadline)."""
    from center.cases.supervision.operations import scan
    from core.calendar import today_in_shanghai

    return scan(actor, today=today_in_shanghai())


def demo_seeder(system_actor, context: dict) -> None:
    """The demo's near and overdue cases show their 督办, and 青石镇's leader issues one by hand."""
    from datetime import timedelta

    from sqlalchemy import select

    from center.cases.supervision.operations import scan, supervise
    from core.accounts.models import User
    from core.actor import Actor
    from core.calendar import today_in_shanghai
    from core.db import db

    today = today_in_shanghai()
    scan(system_actor, today=today)
    case = context.get("cases", {}).get("p-over")
    leader = db.session.scalar(select(User).where(User.username == "qs.leader"))
    if case is not None and leader is not None:
        supervise(case, actor=Actor.for_user(leader, channel="cli"), level=2, form="interview",
                  note="约谈承办人：污水排渠问题群众反映强烈，请会同生态环境部门现场核查，限期整改并书面报告",
                  new_due_on=today + timedelta(days=7), today=today)


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES): the daily job, the 督办 views, panel and demo."""
    from center.cases.supervision import operations
    from center.cases.supervision import views as supervision_views
    from core import hooks

    operations.register()
    from core.scheduler import register_job

    supervision_views.init_app(app)
    hooks.register_demo_seeder("supervision", demo_seeder)

    register_job(JOB_NAME, supervision_job, trigger="cron", hour=8, minute=30,
                 description="督办：临期提醒、超期督办、挂牌督办")
