"""Test databases: the engine under test, fresh databases for tests that need committed data, and the
migrated template they are copied from (SQLite: a file copy; PostgreSQL: ``CREATE DATABASE … TEMPLATE``)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from urllib.parse import urlsplit, urlunsplit

ENGINE = os.environ.get("MEDIATION_TEST_ENGINE", "sqlite")
PG_URL = os.environ.get("MEDIATION_TEST_PG_URL", "")


def normalise_pg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(normalise_pg(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _admin_conn():
    import psycopg

    parts = urlsplit(normalise_pg(PG_URL))
    return psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                           user=parts.username or "postgres", password=parts.password, dbname="postgres",
                           autocommit=True)


def session_database_url(tmp_dir) -> str:
    """The database for the session-scoped app: a SQLite file, or the scratch PostgreSQL database wiped."""
    if ENGINE == "postgresql":
        if not PG_URL:
            raise RuntimeError("MEDIATION_TEST_ENGINE=postgresql needs MEDIATION_TEST_PG_URL")
        import psycopg

        url = normalise_pg(PG_URL)
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return url
    return f"sqlite:///{tmp_dir}/session.db"


def fresh_database_url(tmp_dir) -> str:
    """A brand-new empty database on the engine under test."""
    if ENGINE == "postgresql":
        name = f"mdt_t_{uuid.uuid4().hex[:12]}"
        with _admin_conn() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return _with_db(PG_URL, name)
    return f"sqlite:///{tmp_dir}/{uuid.uuid4().hex[:8]}.db"


def drop_database(url: str) -> None:
    if ENGINE != "postgresql":
        return
    name = urlsplit(url).path.lstrip("/")
    with _admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlite_path(url: str) -> str:
    assert url.startswith("sqlite:///"), url
    return url[len("sqlite:///"):]


def snapshot_database(url: str, tmp_dir) -> str:
    """A template holding exactly what the database at ``url`` holds now (nobody may be writing to it; on
    PostgreSQL nobody may be connected to it: dispose the engine first). Drop it with ``drop_database``."""
    if ENGINE == "postgresql":
        name = f"mdt_tpl_{uuid.uuid4().hex[:12]}"
        source = urlsplit(url).path.lstrip("/")
        with _admin_conn() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return _with_db(PG_URL, name)
    target = f"{tmp_dir}/template-{uuid.uuid4().hex[:8]}.db"
    # The backup API reads a consistent image, the write-ahead log included; the copy keeps no -wal file.
    src, dst = sqlite3.connect(_sqlite_path(url)), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return f"sqlite:///{target}"


def copy_database(template_url: str, tmp_dir) -> str:
    """A brand-new database on the engine under test holding what the template holds (milliseconds, where
    migrating and loading the demo takes seconds)."""
    if ENGINE == "postgresql":
        name = f"mdt_t_{uuid.uuid4().hex[:12]}"
        template = urlsplit(template_url).path.lstrip("/")
        with _admin_conn() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return _with_db(PG_URL, name)
    url = f"sqlite:///{tmp_dir}/{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(_sqlite_path(template_url), _sqlite_path(url))
    return url
