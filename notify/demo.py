"""Demo data for notifications: every demo user bound to the local WeCom stand-in (userid = username, which
the fake's default seed knows), a few residents' Official Account bindings, and a first round of messages
that the dispatcher delivers to the stand-in when `make run` starts."""

from __future__ import annotations

from sqlalchemy import select

from core.accounts.models import Membership, Role, User
from core.db import db
from notify.bindings import bind
from notify.outbox import enqueue


def load(actor, context: dict) -> None:
    users = list(db.session.scalars(select(User).order_by(User.id)))
    for user in users:
        bind(user, "wecom", user.username, actor=actor)
    grid_workers = list(db.session.scalars(select(User).join(Membership, Membership.user_id == User.id).where(Membership.role == Role.grid_worker)
                                           .order_by(User.username).limit(6)))
    for worker in grid_workers:
        enqueue("demo.welcome", worker,
                {"title": "欢迎使用矛调通网格员工作台", "body": "在企业微信中点开即可查看本网格待办、代办登记和回访任务。",
                 "url": "/m/", "status": "已开通"}, key=f"demo-welcome:{worker.id}")
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    if admin is not None:
        enqueue("notify.test", admin, {"title": "消息通道自检", "body": "本条为示范数据发出的企业微信测试消息。",
                                       "url": "/admin/notify/", "status": "测试"},
                key="demo-selftest", priority="urgent")
