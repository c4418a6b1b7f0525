"""CLI commands of the kernel. Each builds a system Actor, begins with write intent, commits once."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from core.actor import Actor
from core.db import db, write_intent

demo_cli = AppGroup("demo", help="示范数据（仅开发与测试环境）")
org_cli = AppGroup("org", help="组织机构")
accounts_cli = AppGroup("accounts", help="账户")


def _refuse_outside_demo():
    from core.config import is_demo_allowed

    if not is_demo_allowed(current_app.config):
        raise click.ClickException("示范数据只能在 development 或 test 环境加载（当前 MEDIATION_ENV="
                                   f"{current_app.config['MEDIATION_ENV']}）")


def load_demo(*, if_empty: bool = False) -> bool:
    """Run every registered seeder (kernel first, then FEATURES order). False if skipped."""
    from sqlalchemy import select

    from core import demo, hooks
    from core.org.models import OrgUnit

    _refuse_outside_demo()
    with write_intent():
        if db.session.scalar(select(OrgUnit.id).limit(1)) is not None:
            if if_empty:
                db.session.rollback()
                return False
            raise click.ClickException("数据库中已有组织机构，示范数据只能加载到空库")
        actor = Actor.system("cli")
        context: dict = {}
        demo.load_core(actor, context)
        for _name, seeder in hooks.demo_seeders:
            seeder(actor, context)
        db.session.flush()
        demo.enrol_demo_factors()
        db.session.commit()
    _print_logins(context["logins"])
    return True


def _print_logins(logins) -> None:
    from core.demo import DEMO_PASSWORD

    click.echo(f"示范区已加载。所有示范账户的密码：{DEMO_PASSWORD}")
    click.echo("工作人员登录的第二步须输入动态口令：开发环境的登录页会显示示范账户的当前口令（网格员无须）")
    shown = [row for row in logins.rows if ".g" not in row[0]]
    grid = [row for row in logins.rows if ".g" in row[0]]
    for username, role, place in shown:
        click.echo(f"  {username:<18} {role:<10} {place}")
    click.echo(f"  另有 {len(grid)} 名网格员，如 {grid[0][0]}（{grid[0][2]}）")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="数据库已有数据时跳过而不报错")
def demo_load(if_empty):
    if not load_demo(if_empty=if_empty):
        click.echo("数据库已有数据，跳过示范数据加载。")


@org_cli.command("create-district")
@click.option("--code", required=True, help="12 位统计用区划代码")
@click.option("--name", required=True)
@click.option("--prefix", required=True, help="事项编号前缀，如 JZ")
def create_district(code, name, prefix):
    """新建一个区县根节点（省市级部署可有多个区县）。"""
    from core.errors import ValidationFailed
    from core.org.operations import create_unit

    with write_intent():
        try:
            unit = create_unit(kind="district", code=code, name=name, parent=None, actor=Actor.system("cli"),
                               case_prefix=prefix.upper())
        except ValidationFailed as exc:
            db.session.rollback()
            raise click.ClickException("；".join(m for ms in exc.errors.values() for m in ms)) from exc
        db.session.commit()
    click.echo(f"已创建区县 {unit.name}（{unit.code}），事项编号前缀 {unit.case_prefix}")


@accounts_cli.command("create-admin")
@click.option("--district", "district_code", required=True, help="区县代码")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["system_admin", "security_admin", "auditor"]), default="system_admin")
@click.password_option(help="初始密码（登录后须修改）")
def create_admin(district_code, username, role, password):
    """创建并启用区县的系统管理员、安全管理员或审计员（生产环境唯一的初始账户来源，岗位由控制台直接启用并记入审计）。"""
    from core.accounts.models import Role
    from core.accounts.operations import create_user
    from core.errors import ValidationFailed
    from core.org.queries import unit_by_code

    with write_intent():
        district = unit_by_code(district_code)
        if district is None or district.kind != "district":
            raise click.ClickException("区县代码不存在")
        try:
            # The console both proposes and activates: no security administrator exists yet to activate the
            # first ones, and only someone at the server can run this.
            create_user(username=username, display_name=username, password=password, title=None,
                        actor=Actor.system("cli"), memberships=[(Role(role), district)], activate=True)
        except ValidationFailed as exc:
            db.session.rollback()
            raise click.ClickException("；".join(m for ms in exc.errors.values() for m in ms)) from exc
        db.session.commit()
    click.echo(f"已创建并启用 {username}")


@accounts_cli.command("break-glass")
@click.option("--username", required=True, help="被锁在系统之外的管理员账户")
@click.option("--action", "kind", required=True, type=click.Choice(["reset-password", "enable", "unlock"]),
              help="reset-password 重置为临时密码；enable 重新启用；unlock 解除登录锁定")
@click.option("--reason", required=True, help="理由（记入审计并通知全体管理员）")
def break_glass(username, kind, reason):
    """紧急恢复管理员账户（三权分立下无人可审批时的唯一途径）：须在服务器上执行，记入审计并通知全体管理员。"""
    from core.accounts.break_glass import KINDS
    from core.accounts.break_glass import break_glass as recover
    from core.errors import ValidationFailed

    with write_intent():
        try:
            req, plain, told = recover(username, kind=KINDS[kind], reason=reason, actor=Actor.system("cli"))
        except ValidationFailed as exc:
            db.session.rollback()
            raise click.ClickException("；".join(m for ms in exc.errors.values() for m in ms)) from exc
        db.session.commit()
    click.echo(f"已对 {req.target.username} 执行紧急恢复「{req.kind_label}」，已通知 {told} 名管理员。")
    if plain:
        click.echo(f"临时密码（只显示这一次，首次登录须修改）：{plain}")


def init_app(app):
    from core.backup.cli import backup_cli, register_audit_labels

    register_audit_labels()
    for group in (demo_cli, org_cli, accounts_cli, backup_cli):
        app.cli.add_command(group)
