"""Create, verify and restore backups, whichever engine: the CLI's three commands without Click.

Nothing here touches the application's session or engine: a backup reads the database through its own
connection (SQLite) or its own transaction and pg_dump (PostgreSQL), so it never joins a unit of work.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

from core.backup import archive, postgres, sqlite
from core.backup import manifest as manifests
from core.backup.archive import BackupError

logger = logging.getLogger(__name__)
ENGINES = {"sqlite": sqlite, "postgresql": postgres}


def engine_of(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise BackupError("只支持 SQLite 与 PostgreSQL 数据库的备份")


def create_backup(url: str, key_hex: str | None, out: str) -> dict:
    """Write the encrypted backup of the database at ``url`` to ``out``; returns its header."""
    key = archive.parse_key(key_hex)
    engine = engine_of(url)
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    partial = f"{out}.part"  # a backup that failed half way must never look like a backup
    header: dict = {}

    def emit(taken: dict, chunks) -> None:
        header.update(engine=engine, created_at=datetime.now(UTC).isoformat(timespec="seconds"), manifest=taken)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            archive.write(handle, key, header, chunks)
            handle.flush()
            os.fsync(handle.fileno())

    try:
        ENGINES[engine].create(url, emit, workdir=out_dir)
        os.replace(partial, out)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    tables, rows = manifests.totals(header["manifest"])
    logger.info("backup %s written: %s tables, %s rows", out, tables, rows)
    return header


def _check(expected: dict, found: dict, where: str) -> None:
    problems = manifests.differences(expected, found)
    if problems:
        more = f"（另有 {len(problems) - 1} 处不符）" if len(problems) > 1 else ""
        raise BackupError(f"{where}与备份清单不符：{problems[0]}{more}")


def verify_backup(path: str, key_hex: str | None, *, url: str, scratch_url: str | None = None) -> dict:
    """Decrypt ``path``, restore it into a scratch database and compare with its manifest; returns the header.

    ``url`` is the application's database: on PostgreSQL its server hosts the scratch database unless
    ``scratch_url`` names another."""
    key = archive.parse_key(key_hex)
    header, chunks = archive.open_archive(path, key)
    engine = header.get("engine")
    try:
        if engine == "sqlite":
            with sqlite.restored_copy(chunks) as copy:
                _check(header["manifest"], sqlite.file_manifest(copy), "恢复出的数据库")
        elif engine == "postgresql":
            if engine_of(scratch_url or url) != "postgresql":
                raise BackupError("PostgreSQL 备份须在 PostgreSQL 服务器上校验：请设置 MEDIATION_BACKUP_SCRATCH_URL")
            with postgres.scratch_database(url, scratch_url) as scratch:
                postgres.restore(chunks, scratch, clean=False)
                _check(header["manifest"], postgres.manifest_of(scratch), "恢复出的数据库")
        else:
            raise BackupError(f"备份文件头中的数据库类型未知：{engine!r}")
    finally:
        chunks.close()
    logger.info("backup %s verified", path)
    return header


def restore_backup(path: str, key_hex: str | None, *, into: str, confirmed: bool,
                   scratch_url: str | None = None) -> dict:
    """Restore ``path`` into the database at ``into``, after the whole file authenticated and its restored copy
    matched the manifest; a non-empty target needs ``confirmed``. Returns the header."""
    key = archive.parse_key(key_hex)
    header, chunks = archive.open_archive(path, key)
    chunks.close()  # read again below, once the target is known to be acceptable
    engine = header.get("engine")
    if engine_of(into) != engine:
        raise BackupError(f"备份来自 {engine} 数据库，不能恢复到 {engine_of(into)} 数据库")
    module = ENGINES[engine]
    empty = module.is_empty(into)
    if not empty and not confirmed:
        raise BackupError("目标数据库不是空库，恢复将覆盖其中全部数据；确认无误请加 --yes 重新执行")
    if engine == "sqlite":
        target_dir = os.path.dirname(os.path.abspath(sqlite.database_path(into)))
        if not os.path.isdir(target_dir):
            raise BackupError(f"目标数据库所在的目录不存在：{target_dir}")
        _, chunks = archive.open_archive(path, key)
        try:
            with sqlite.restored_copy(chunks, workdir=target_dir) as copy:
                _check(header["manifest"], sqlite.file_manifest(copy), "恢复出的数据库")
                sqlite.restore(copy, into)
        finally:
            chunks.close()
    else:
        # pg_restore reads a stream: prove the whole file in a scratch database before touching the target.
        verify_backup(path, key_hex, url=into, scratch_url=scratch_url)
        _, chunks = archive.open_archive(path, key)
        try:
            postgres.restore(chunks, into, clean=not empty)
        finally:
            chunks.close()
    _check(header["manifest"], module.manifest_of(into), "恢复后的目标数据库")
    logger.warning("backup %s restored into the %s database (%s)", path, engine,
                   "replacing its contents" if not empty else "empty before")
    return header
