"""`flask calendar seed`: enter the official tables the chinese-calendar package knows (production setup
and after upgrading the package); years already in the table are left as they are."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from core.actor import Actor
from core.db import db, write_intent

calendar_cli = AppGroup("calendar", help="法定节假日与调休安排")


@calendar_cli.command("seed")
def seed():
    """从 chinese-calendar 数据包写入官方节假日安排（已有的年度不改动）。"""
    from core.calendar.operations import seed_from_chinese_calendar

    with write_intent():
        years = seed_from_chinese_calendar(Actor.system("cli"))
        db.session.commit()
    if years:
        click.echo(f"已写入 {len(years)} 个年度的节假日安排（{years[0]}–{years[-1]}）；已有的年度未改动。")
    else:
        click.echo("数据包中的年度均已在节假日表中，未改动。")
