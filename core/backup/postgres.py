"""PostgreSQL: pg_dump of an exported snapshot, the manifest read in the transaction that exported it.

A REPEATABLE READ transaction exports its snapshot (``pg_export_snapshot``), reads the manifest and stays open
while ``pg_dump --snapshot`` dumps that same snapshot; writers carry on meanwhile. Restores go through
``pg_restore --single-transaction`` so a refused chunk or a failed statement leaves the target as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from contextlib import contextmanager, suppress

import psycopg
from psycopg import sql

from core.backup import manifest
from core.backup.archive import BackupError

_READ = 1024 * 1024
# The text form of timestamps, floats, intervals and bytea depends on session settings: fix them, so the same
# row renders alike when the manifest is taken and when the restored copy is checked.
_CANONICAL = ("SET LOCAL TimeZone = 'UTC'", "SET LOCAL DateStyle = 'ISO, YMD'",
              "SET LOCAL IntervalStyle = 'postgres'", "SET LOCAL extra_float_digits = 3",
              "SET LOCAL bytea_output = 'hex'")
_TABLES = ("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
           "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1, 2")


def _params(url: str) -> dict:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    params = {"host": parsed.host or "127.0.0.1", "port": parsed.port or 5432, "user": parsed.username,
              "password": parsed.password, "dbname": parsed.database}
    params.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})
    return {k: v for k, v in params.items() if v is not None}


def _connect(params: dict, **kw) -> psycopg.Connection:
    try:
        return psycopg.connect(**params, **kw)
    except psycopg.OperationalError as exc:
        raise BackupError(f"无法连接 PostgreSQL 数据库 {params.get('dbname')}：{exc}") from exc


def _tool(name: str, params: dict) -> tuple[list[str], dict]:
    """argv prefix and environment for a client tool: the password goes by environment, never argv (ps)."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"找不到 {name}：请安装与服务器主版本相同的 PostgreSQL 客户端工具")
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = str(params["password"])
    conninfo = psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if k != "password"})
    return [path, "--no-password", "-d", conninfo], env


def _table_key(schema: str, table: str) -> str:
    return table if schema == "public" else f"{schema}.{table}"


def compute_manifest(conn: psycopg.Connection) -> dict:
    """Manifest of what ``conn``'s open transaction sees (canonical settings already applied)."""
    tables = {}
    for schema, table in conn.execute(_TABLES).fetchall():
        # ROW(t.*) is the whole row even when a column happens to share the alias's name.
        query = sql.SQL("SELECT CAST(ROW(t.*) AS text) FROM {}.{} AS t").format(sql.Identifier(schema),
                                                                               sql.Identifier(table))
        with conn.cursor(name=f"mdt_manifest_{uuid.uuid4().hex[:8]}") as cursor:
            cursor.itersize = 5000
            cursor.execute(query)
            tables[_table_key(schema, table)] = manifest.table_entry(row[0].encode("utf-8") for row in cursor)
    return manifest.build(tables)


def _begin_snapshot(conn: psycopg.Connection) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    for statement in _CANONICAL:
        conn.execute(statement)


def create(url: str, emit, *, workdir: str | None = None) -> None:
    params = _params(url)
    argv, env = _tool("pg_dump", params)
    with _connect(params, autocommit=True) as conn:
        _begin_snapshot(conn)
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        taken = compute_manifest(conn)
        with tempfile.TemporaryFile() as errors:
            dump = subprocess.Popen([*argv, "--format=custom", f"--snapshot={snapshot}"],
                                    stdout=subprocess.PIPE, stderr=errors, env=env)
            try:
                emit(taken, iter(lambda: dump.stdout.read(_READ), b""))
            finally:
                dump.stdout.close()
                code = dump.wait()
            if code != 0:
                errors.seek(0)
                raise BackupError(f"pg_dump 失败（退出码 {code}）：{_tail(errors.read())}")
        conn.execute("COMMIT")


def _tail(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").strip()[-800:] or "（无输出）"


def manifest_of(url: str) -> dict:
    with _connect(_params(url), autocommit=True) as conn:
        _begin_snapshot(conn)
        found = compute_manifest(conn)
        conn.execute("COMMIT")
    return found


def is_empty(url: str) -> bool:
    with _connect(_params(url), autocommit=True) as conn:
        return conn.execute(_TABLES).fetchone() is None


def restore(chunks: Iterable[bytes], url: str, *, clean: bool) -> None:
    """Feed the payload to pg_restore for ``url`` (``clean``: drop what the dump recreates first)."""
    argv, env = _tool("pg_restore", _params(url))
    argv += ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
    if clean:
        argv += ["--clean", "--if-exists"]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        try:
            for piece in chunks:
                proc.stdin.write(piece)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped early; its exit code and messages say why
        except BaseException:
            proc.kill()  # a refused chunk: the single transaction never commits
            proc.wait()
            raise
        finally:
            if not proc.stdin.closed:
                with suppress(BrokenPipeError):
                    proc.stdin.close()
        code = proc.wait()
        if code != 0:
            errors.seek(0)
            raise BackupError(f"pg_restore 失败（退出码 {code}）：{_tail(errors.read())}")


@contextmanager
def scratch_database(url: str, scratch_url: str | None = None):
    """A new empty database ``mdt_verify_<random>`` on the server of ``scratch_url`` (else of ``url``),
    dropped afterwards; yields its URL."""
    from sqlalchemy.engine import make_url

    server = make_url(scratch_url or url)
    name = f"mdt_verify_{uuid.uuid4().hex[:12]}"
    admin = _params(server.render_as_string(hide_password=False))
    with _connect(admin, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise BackupError(f"无法创建校验用的临时数据库 {name}：{exc}") from exc
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with _connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
