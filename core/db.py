"""Database kernel: declarative base, naming convention, time helpers, SQLite pragmas and write intent.

SQLite: WAL, foreign keys, busy timeout. pysqlite's own transaction handling is switched off so that we
emit BEGIN ourselves: ``BEGIN IMMEDIATE`` while the current unit of work intends to write (every non-GET
request, jobs and CLI commands), plain deferred ``BEGIN`` otherwise. A deferred transaction that reads and
then writes fails with "database is locked" when another writer got in between, busy timeout or not.

Engine-specific SQL lives here and nowhere else.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Integer, MetaData, String, TypeDecorator, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.functions import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on both engines (SQLite stores naive text; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use core.db.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def CString(length: int) -> String:  # noqa: N802 - reads like a type
    """A string compared bytewise on PostgreSQL too: materialized paths must sort by code point, whatever
    the database locale (glibc/ICU collations ignore '/' and would break subtree range scans)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# --- write intent -------------------------------------------------------------------------------------

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


def set_write_intent(value: bool) -> contextvars.Token:
    return _write_intent.set(value)


def reset_write_intent(token: contextvars.Token) -> None:
    _write_intent.reset(token)


@contextlib.contextmanager
def write_intent():
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # We emit BEGIN ourselves (see module docstring).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")  # busy timeout comes from connect_args["timeout"]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def configure_engine_options(cfg: dict) -> None:
    """Per-engine options, set before Flask-SQLAlchemy builds the engine."""
    url = cfg["SQLALCHEMY_DATABASE_URI"]
    opts = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        connect_args = dict(opts.get("connect_args") or {})
        connect_args.setdefault("timeout", cfg["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        connect_args.setdefault("check_same_thread", False)
        opts["connect_args"] = connect_args
    else:
        opts.setdefault("pool_pre_ping", True)
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = opts


#: Tests that roll back per test bind short sessions to the test's connection (see tests/conftest.py).
_test_connection = None


def bind_short_sessions(connection) -> None:
    global _test_connection
    _test_connection = connection


def _short_session() -> Session:
    if _test_connection is not None:
        return Session(bind=_test_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    return Session(db.engine, expire_on_commit=False)


@contextlib.contextmanager
def short_read():
    """A short read on its own connection (session lookup before the request's transaction exists)."""
    with _short_session() as session:
        yield session
        session.rollback()


@contextlib.contextmanager
def own_transaction():
    """A short write transaction on its own connection, committed at once.

    For security events (failed logins, lockouts, denials) and session bookkeeping, which must survive a
    rolled-back request, and for GET requests that must write.
    """
    with write_intent(), _short_session() as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def ping() -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def xact_lock(name: str) -> None:
    """Serialise transactions about one thing (e.g. an idempotency key) until the caller's transaction ends:
    a transaction-level advisory lock on PostgreSQL; on SQLite a write transaction (BEGIN IMMEDIATE) already
    excludes every other writer."""
    if is_postgresql():
        import hashlib

        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def advisory_lock_sql(key: int) -> str | None:
    """Session-level advisory lock (PostgreSQL). SQLite deployments use a file lock instead."""
    return f"SELECT pg_try_advisory_lock({int(key)})" if is_postgresql() else None


# --- engine adapter: date arithmetic ----------------------------------------------------------------------

class day_number(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """Days since 1970-01-01 of a DATE column, as an integer, on both engines (deadline colours in SQL)."""

    type = Integer()
    inherit_cache = True


@compiles(day_number, "sqlite")
def _day_number_sqlite(element, compiler, **kw):
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5 AS INTEGER)"


@compiles(day_number, "postgresql")
def _day_number_pg(element, compiler, **kw):
    return f"(({compiler.process(element.clauses, **kw)}) - DATE '1970-01-01')"
