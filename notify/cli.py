"""`flask notify dispatch` (dispatcher worker) and `flask notify fake-wechat` (the local stand-in)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

notify_cli = AppGroup("notify", help="消息通知")


@notify_cli.command("dispatch")
@click.option("--once", is_flag=True, help="发完当前到期的消息后退出")
@click.option("--max-seconds", type=float, default=None, help="运行这么多秒后退出")
def dispatch(once, max_seconds):
    """运行一个投递进程（PostgreSQL 上可运行多个，SQLite 上只运行一个）。"""
    from notify.dispatcher import run

    run(once=once, max_seconds=max_seconds)


def init_app(app):
    try:
        from notify.fake.cli import fake_wechat_command
    except ImportError:  # pragma: no cover - the stand-in ships with the package
        fake_wechat_command = None
    if fake_wechat_command is not None and "fake-wechat" not in notify_cli.commands:
        notify_cli.add_command(fake_wechat_command)
    if "notify" not in app.cli.commands:
        app.cli.add_command(notify_cli)
