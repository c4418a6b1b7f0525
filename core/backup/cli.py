"""`flask backup create | verify | restore`. They read the database through their own connections (see
``core.backup.service``), so unlike the other commands they open no unit of work of the application; each
outcome is then audited as a security event (its own short transaction on the configured database)."""

from __future__ import annotations

import logging
import os
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from core import hooks
from core.actor import Actor
from core.backup import manifest as manifests
from core.backup import service
from core.backup.archive import BackupError

backup_cli = AppGroup("backup", help="数据备份与恢复（加密备份文件，附逐表行数与校验和清单）")
logger = logging.getLogger(__name__)
AUDIT_ACTIONS = {"backup.created": "创建备份", "backup.verified": "校验备份", "backup.restored": "从备份恢复"}


def register_audit_labels() -> None:
    hooks.register_audit_labels(AUDIT_ACTIONS, {"backup": "备份文件"})


def _audit(action: str, path: str, result: str = "ok") -> None:
    from core.audit.operations import record_security_event

    # The file name only: a path can name a person's directory, and the audit log shows it to the auditor.
    record_security_event(Actor.system("cli"), action, result=result, object_type="backup",
                          object_id=os.path.basename(path)[:64])


def _audit_failure(action: str, path: str) -> None:
    try:
        _audit(action, path, "failed")
    except Exception:  # the database may be what failed; the refusal itself must still reach the operator
        logger.exception("could not audit the failed %s of %s", action, path)


def _default_out(engine: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(current_app.instance_path, "backups", f"mdt-{engine}-{stamp}.mdtbak")


def _summary(header: dict) -> str:
    tables, rows = manifests.totals(header["manifest"])
    return f"{tables} 张表、{rows} 行（{header['engine']}，备份于 {header['created_at']}）"


def _fail(exc: BackupError):
    raise click.ClickException(str(exc)) from exc


@backup_cli.command("create")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="备份文件路径（默认 instance/backups/ 下按时间命名）")
def create(out):
    """备份当前数据库：一致的时间点副本，加密写入文件，并附逐表清单。"""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        out = out or _default_out(service.engine_of(url))
        header = service.create_backup(url, current_app.config.get("BACKUP_KEY"), out)
    except BackupError as exc:
        _fail(exc)
    _audit("backup.created", out)  # after the snapshot: the backup never holds its own audit row
    click.echo(f"已创建备份 {out}：{_summary(header)}")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def verify(path):
    """校验备份：解密、恢复到临时数据库，逐表核对行数与校验和。"""
    try:
        header = service.verify_backup(path, current_app.config.get("BACKUP_KEY"),
                                       url=current_app.config["SQLALCHEMY_DATABASE_URI"],
                                       scratch_url=current_app.config.get("BACKUP_SCRATCH_URL") or None)
    except BackupError as exc:
        _audit_failure("backup.verified", path)
        _fail(exc)
    _audit("backup.verified", path)
    click.echo(f"校验通过：{_summary(header)}，行数与校验和均与清单一致")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", "into", help="目标数据库 URL（默认当前配置的数据库）")
@click.option("--yes", "confirmed", is_flag=True, help="确认覆盖非空的目标数据库")
def restore(path, into, confirmed):
    """从备份恢复：先完整校验，再写入目标数据库；目标非空时须加 --yes。请先停止应用的各个进程。"""
    try:
        header = service.restore_backup(path, current_app.config.get("BACKUP_KEY"),
                                        into=into or current_app.config["SQLALCHEMY_DATABASE_URI"],
                                        confirmed=confirmed,
                                        scratch_url=current_app.config.get("BACKUP_SCRATCH_URL") or None)
    except BackupError as exc:
        _audit_failure("backup.restored", path)
        _fail(exc)
    # Written after the restore: when the target is the configured database, its restored log says so.
    _audit("backup.restored", path)
    click.echo(f"已恢复：{_summary(header)}，恢复后的行数与校验和均与清单一致")
