"""Database kernel: declarative base, naming convention, time helpers, SQLite pragmas, write intent, capacity.

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
    """A short read on its own connection (session lookup before the request's transaction exists; a rate
    limit's count inside a write request). Always a deferred BEGIN, whatever the request intends: inside a
    POST, whose transaction may already hold SQLite's write lock, a BEGIN IMMEDIATE here would wait for it
    until the busy timeout — the request waiting on itself. A WAL reader never waits."""
    token = _write_intent.set(False)
    try:
        with _short_session() as session:
            yield session
            session.rollback()
    finally:
        _write_intent.reset(token)


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


# --- capacity: one conditional statement ----------------------------------------------------------------
#
# Seats, reception slots and duty posts are rows with a ``capacity`` and a ``taken`` count. A unit is taken
# with ONE conditional UPDATE: the database tests the condition and changes the row in the same statement,
# under its row lock (PostgreSQL, READ COMMITTED re-checks the WHERE against the newest row version after a
# concurrent writer commits) or its database write lock (SQLite). A read-modify-write in Python (SELECT taken,
# compare, UPDATE) would let two transactions both see the last unit free. The CHECK constraint is the
# backstop for any code that writes the columns some other way: such a write fails instead of overbooking.

CAPACITY_CHECK_NAME = "capacity"  # → ck_<table>_capacity under NAMING_CONVENTION


def capacity_check(*, capacity: str = "capacity", taken: str = "taken", name: str = CAPACITY_CHECK_NAME):
    """The backstop: ``0 <= taken <= capacity`` as a table-level CHECK constraint."""
    from sqlalchemy import CheckConstraint

    return CheckConstraint(f"{taken} >= 0 AND {taken} <= {capacity}", name=name)


def capacity_columns(*, capacity: str = "capacity", taken: str = "taken", name: str = CAPACITY_CHECK_NAME):
    """Columns and CHECK of a capacity row for a Core ``Table``: ``Table("slots", md, id_col, *capacity_columns())``."""
    from sqlalchemy import Column

    return (Column(capacity, Integer, nullable=False),
            Column(taken, Integer, nullable=False, default=0, server_default=text("0")),
            capacity_check(capacity=capacity, taken=taken, name=name))


class CapacityMixin:
    """An ORM model holding a capacity row: ``class ReceptionSlot(CapacityMixin, db.Model)``.

    The CHECK is appended to the mapped table when the class is mapped (see ``_attach_capacity_check``),
    not through ``__table_args__``, which a model declaring its own ``__table_args__`` would silently
    replace, dropping the backstop."""

    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    taken: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))


@event.listens_for(CapacityMixin, "instrument_class", propagate=True)
def _attach_capacity_check(mapper, class_):
    table = mapper.local_table
    if not any(c.info.get("capacity_backstop") for c in table.constraints):  # single-table subclasses
        check = capacity_check()
        check.info["capacity_backstop"] = True
        table.append_constraint(check)


def _check_amount(amount) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValueError(f"capacity amount must be a positive integer, got {amount!r}")
    return amount


def _capacity_update(table, row_id, session, id_column, taken_column, condition, delta) -> bool:
    from sqlalchemy import inspect, update

    mapper = inspect(table, raiseerr=False) if isinstance(table, type) else None
    core = table.__table__ if mapper is not None else table
    taken = core.c[taken_column]
    stmt = (update(core).where(core.c[id_column] == row_id, condition(core, taken))
            .values({taken_column: taken + delta}))
    session = db.session if session is None else session
    orm = hasattr(session, "identity_map")  # a Session, not a Connection
    if orm and session.autoflush:
        session.flush()  # as an ORM query would: the statement must see pending changes (say, a new capacity)
    count = session.execute(stmt).rowcount
    if count > 1:
        raise RuntimeError(f"{core.name}.{id_column} is not unique: {count} capacity rows changed")
    if count == 1 and mapper is not None and orm and list(mapper.primary_key) == [core.c[id_column]]:
        # The statement bypassed the ORM: a loaded instance would still show the old count.
        loaded = session.identity_map.get(mapper.identity_key_from_primary_key([row_id]))
        if loaded is not None:
            session.expire(loaded, [mapper.get_property_by_column(taken).key])
    return count == 1


def take_capacity(table, row_id, *, amount: int = 1, session=None, id_column: str = "id",
                  capacity_column: str = "capacity", taken_column: str = "taken") -> bool:
    """Take ``amount`` units of capacity row ``row_id``; True if taken, False if there is not enough room
    (or no such row) — then nothing changed.

    ``table`` is a Core ``Table`` or an ORM class mapped to one table, with integer capacity/taken columns
    (names overridable; ``id_column`` must be unique). A loaded instance's ``taken`` is expired afterwards. Runs one ``UPDATE … SET taken = taken + :n WHERE id = :id AND
    taken + :n <= capacity`` in the caller's transaction (``session``: a Session or Connection, default
    ``db.session``) and never commits: the caller commits once, with its other changes. On SQLite the
    caller's transaction must be a write transaction (``write_intent``: every non-GET request, job and CLI
    command is), so the statement waits for the write lock instead of failing on a stale snapshot. On
    PostgreSQL it relies on READ COMMITTED (the default); under REPEATABLE READ a concurrent taker gets a
    serialization failure instead of False.
    """
    amount = _check_amount(amount)
    return _capacity_update(table, row_id, session, id_column, taken_column,
                            lambda t, taken: taken + amount <= t.c[capacity_column], amount)


def release_capacity(table, row_id, *, amount: int = 1, session=None, id_column: str = "id",
                     taken_column: str = "taken") -> bool:
    """Give back ``amount`` units of row ``row_id``; False (and nothing changed) when fewer are taken, so
    a double release never drives the count below zero. Same transaction rules as ``take_capacity``."""
    amount = _check_amount(amount)
    return _capacity_update(table, row_id, session, id_column, taken_column,
                            lambda t, taken: taken >= amount, -amount)


# --- one row of a scoped query, or 404 ---------------------------------------------------------------------


def increment_counter(session, table, key: dict, column: str, *, extra: dict | None = None, by: int = 1) -> int:
    """Add ``by`` to ``table.column`` of the row ``key`` (inserting it at ``by``) in one statement; the new value.
    INSERT … ON CONFLICT DO UPDATE … RETURNING on both engines, so concurrent writers never lose a hit."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {**key, column: by, **(extra or {})}
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={column: table.c[column] + by})
    return session.execute(stmt.returning(table.c[column])).scalar_one()


def get_or_404(query, ident, *, column=None):
    """The row of ``query`` (a ``select`` already scoped to the actor) whose ``column`` is ``ident``, else
    NotFound (404 — a row outside the actor's sight is not there). ``column`` defaults to the selected entity's
    ``id``, and ``ident`` is then read as an id (``core.errors.as_id``: a malformed or out-of-range id is a
    404 too). Every ``get_*_or_404`` is this with its own scoped query."""
    from core.errors import NotFound, as_id

    if column is None:
        column = query.column_descriptions[0]["entity"].id
        ident = as_id(ident)
    row = db.session.scalar(query.where(column == ident))
    if row is None:
        raise NotFound()
    return row


def refresh_statistics(connection) -> None:
    """Give the query planner fresh statistics: after migrations and nightly (core.scheduler's
    "db.statistics"). Without them SQLite plans every list from guesses and picks the wrong index on a
    large registry. SQLite: a full ANALYZE the first time, then ``PRAGMA optimize`` (re-analyzes only the
    tables that changed enough); PostgreSQL: ANALYZE."""
    if connection.dialect.name == "sqlite":
        analysed = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'").first()
        connection.exec_driver_sql("PRAGMA optimize" if analysed else "ANALYZE")
    else:
        connection.exec_driver_sql("ANALYZE")


#: Schema objects only migrations make (an engine's full-text machinery: SQLite's FTS5 table and its shadow
#: tables, PostgreSQL's expression indexes): the model metadata does not describe them, so autogenerate and
#: the schema comparison leave them alone.
MIGRATION_ONLY_PREFIXES = ("case_terms_fts", "ix_case_terms_grams_gin", "ix_case_terms_chars_gin")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: everything but ``MIGRATION_ONLY_PREFIXES``."""
    return not (reflected and name is not None and name.startswith(MIGRATION_ONLY_PREFIXES))


def touched_keys(session: Session, watched: dict) -> set:
    """Keys of the rows a flush writes that derived data depends on. ``watched`` maps a model class to
    (attribute names, key function): a new or deleted object always counts, a dirty one when one of those
    attributes (a column or a relationship) changed."""
    from sqlalchemy import inspect

    keys: set = set()
    for obj in (*session.new, *session.deleted):
        spec = watched.get(type(obj))
        if spec is not None:
            keys.add(spec[1](obj))
    for obj in session.dirty:
        spec = watched.get(type(obj))
        if spec is not None:
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in spec[0]):
                keys.add(spec[1](obj))
    keys.discard(None)
    return keys


_kept: dict = {}


def keep_in_step(name: str, touched, refresh) -> None:
    """Keep derived rows in step with every flush, in the flush's transaction: after each flush,
    ``refresh(connection, touched(session))`` when anything was touched. Idempotent per ``name``."""
    if name in _kept:
        return

    def after_flush(session: Session, _context) -> None:
        keys = touched(session)
        if keys:
            refresh(session.connection(), keys)

    _kept[name] = after_flush
    event.listen(Session, "after_flush", after_flush)
