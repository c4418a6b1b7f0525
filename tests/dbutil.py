"""Test databases: the engine under test, fresh databases for tests that need committed data."""

from __future__ import annotations

import os
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
