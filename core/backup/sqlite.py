"""SQLite: a consistent copy through the online backup API, its manifest read in the same snapshot.

One connection opens a read transaction on the live database, which pins a WAL snapshot: writers carry on (they
append to the WAL, which the snapshot ignores), and both the manifest's reads and ``Connection.backup`` — which
reads through the transaction its source connection already holds — see exactly that snapshot. A backup
through a second connection could copy a later state than the manifest describes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from core.backup import manifest
from core.backup.archive import BackupError

_READ = 1024 * 1024
logger = logging.getLogger(__name__)


def database_path(url: str) -> str:
    from sqlalchemy.engine import make_url

    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError("内存中的 SQLite 数据库无法备份或恢复，请指定数据库文件")
    return path


def _connect(path: str, timeout: float = 30.0) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    # Text the application did not write as UTF-8 still hashes (and round-trips) byte for byte.
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    return conn


def _tables(conn: sqlite3.Connection) -> list[str]:
    # Virtual tables (the FTS5 index) hold nothing themselves: their rows live in their shadow tables, which
    # are ordinary tables and listed; reading the virtual table would count the content table a second time.
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return [name for name, sql in rows if not (sql or "").lstrip().upper().startswith("CREATE VIRTUAL")]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compute_manifest(conn: sqlite3.Connection) -> dict:
    """Manifest of what ``conn`` sees (inside its current transaction, if any)."""
    tables = {}
    for name in _tables(conn):
        cursor = conn.execute(f"SELECT * FROM {_quote(name)}")  # noqa: S608 - a name from sqlite_master
        tables[name] = manifest.table_entry(manifest.sqlite_row_text(row) for row in cursor)
    return manifest.build(tables)


def _private_dir(near: str | None) -> str:
    # The plaintext copy lives only in a directory only we can enter, beside the target (where the space is).
    return tempfile.mkdtemp(prefix=".mdt-backup-", dir=near)


def create(url: str, emit, *, workdir: str | None = None) -> None:
    """Copy the live database and hand ``emit(manifest, chunks)`` the copy's bytes."""
    path = database_path(url)
    if not os.path.exists(path):
        raise BackupError(f"数据库文件不存在：{path}")
    tmp_dir = _private_dir(workdir)
    copy = os.path.join(tmp_dir, "snapshot.db")
    try:
        source = _connect(path)
        try:
            if source.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                # Outside WAL a read transaction holds a shared lock: writers wait for the whole backup.
                logger.warning("%s is not in WAL mode: writers wait until the backup ends", path)
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
            taken = compute_manifest(source)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # pages=-1: one step, inside the transaction opened above
            finally:
                target.close()
            source.execute("COMMIT")
        finally:
            source.close()
        emit(taken, _file_chunks(copy))
    finally:
        _remove_tree(tmp_dir)


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while piece := handle.read(_READ):
            yield piece


def _remove_tree(tmp_dir: str) -> None:
    for name in os.listdir(tmp_dir):
        os.unlink(os.path.join(tmp_dir, name))
    os.rmdir(tmp_dir)


@contextmanager
def restored_copy(chunks: Iterable[bytes], *, workdir: str | None = None):
    """The payload written to a private temp file (every chunk authenticated on the way); yields its path."""
    tmp_dir = _private_dir(workdir)
    copy = os.path.join(tmp_dir, "restored.db")
    try:
        with open(copy, "wb") as handle:
            for piece in chunks:
                handle.write(piece)
        try:
            conn = _connect(copy)
            conn.execute("PRAGMA quick_check").fetchall()
            conn.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"解密后的数据不是完好的 SQLite 数据库：{exc}") from exc
        yield copy
    finally:
        _remove_tree(tmp_dir)


def manifest_of(url: str) -> dict:
    return file_manifest(database_path(url))


def file_manifest(path: str) -> dict:
    conn = _connect(path)
    try:
        conn.execute("BEGIN")
        return compute_manifest(conn)
    finally:
        conn.close()


def is_empty(url: str) -> bool:
    path = database_path(url)
    if not os.path.exists(path):
        return True
    conn = _connect(path)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0
    finally:
        conn.close()


def restore(copy: str, url: str) -> None:
    """Replace the database at ``url`` with the checked copy: the backup API writes it page by page under the
    target's own locks (connections of a running app see either the old or the restored database, never a
    file half copied over)."""
    source, target = _connect(copy), _connect(database_path(url), timeout=60.0)
    try:
        source.backup(target)
    except sqlite3.OperationalError as exc:
        raise BackupError(f"无法写入目标数据库（可能正被其他进程写入）：{exc}") from exc
    finally:
        target.close()
        source.close()
