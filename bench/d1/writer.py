"""Rows and their writing: ids handed out here, rows kept per table, written with SQLAlchemy Core ``insert()``
executemany in chunks.

Ids are chosen by the generator, not the database: a case's events, deadlines and documents must name each
other (a continuation row names the row it continues, a 督办 its deadline, a service record its document)
before anything is written, and asking the database for each id would cost a round trip per row. On
PostgreSQL the sequences are moved past the ids afterwards (``fix_sequences``) so the application's own inserts
continue after them.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, func, insert, select, text

from core.db import UTCDateTime, db

CHUNK = 5000
#: Asia/Shanghai has had no daylight saving time since 1991: local times are UTC+8 throughout the data set.
EIGHT = timedelta(hours=8)


def utc(local: datetime | None) -> datetime | None:
    """A naive Asia/Shanghai time (how the generator reasons about office hours) as the aware UTC instant the
    models store."""
    return None if local is None else (local - EIGHT).replace(tzinfo=UTC)


class Rows:
    """Rows per table, every row with every column (executemany needs one shape per statement), and the next
    id of each table."""

    def __init__(self, tables: list[str]):
        self.tables = {name: db.metadata.tables[name] for name in tables}
        self.blank = {name: {c.name: None for c in t.columns} for name, t in self.tables.items()}
        self.columns = {name: frozenset(b) for name, b in self.blank.items()}
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.next_id: dict[str, int] = {}
        self.written: dict[str, int] = defaultdict(int)
        #: SQLite: the compiled insert() run through the driver's executemany with rows already in stored form
        self.fast = True
        self._compiled: dict[str, tuple] = {}

    def start_ids(self, conn) -> None:
        for name, table in self.tables.items():
            if _int_id(table):
                self.next_id[name] = (conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1

    def new_id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def add(self, table: str, **values) -> dict:
        """Append a row; ``id`` is handed out unless given. Unknown column names fail at once (a typo would
        otherwise silently drop a value)."""
        if "id" not in values and table in self.next_id:
            values["id"] = self.new_id(table)
        unknown = values.keys() - self.columns[table]
        if unknown:
            raise KeyError(f"{table} has no column {sorted(unknown)}")
        row = {**self.blank[table], **values}
        self.rows[table].append(row)
        return row

    def _sqlite_insert(self, dialect, name: str) -> tuple:
        """``insert(table)`` compiled once for SQLite, and a function turning a row into its parameters in
        stored form — what the column types' bind processors would make of it (UTC text for UTCDateTime,
        ISO dates, 0/1, JSON text). SQLAlchemy's per-row parameter processing is most of the cost of a bulk
        load; the statement and the stored values are the same."""
        found = self._compiled.get(name)
        if found is None:
            table = self.tables[name]
            compiled = insert(table).compile(dialect=dialect, column_keys=[c.name for c in table.columns])
            order = list(compiled.positiontup)
            getter = itemgetter(*order)
            fixes = [(i, f) for i, key in enumerate(order) if (f := _stored_form(table.c[key].type)) is not None]

            def shape(row, getter=getter, fixes=fixes):
                values = getter(row)
                if not fixes:
                    return values
                values = list(values)
                for i, f in fixes:
                    v = values[i]
                    if v is not None:
                        values[i] = f(v)
                return tuple(values)

            found = self._compiled[name] = (str(compiled), shape)
        return found

    def take(self, order: list[str], dialect) -> list[tuple]:
        """Hand over everything held as a batch ``[(table, SQL or None, parameters)]``, parents before children
        (``order``): on SQLite the compiled insert's text with rows in stored form (picklable, cheap to send
        to the writing process), otherwise the rows for ``insert(table)`` itself."""
        batch = []
        for name in order:
            rows = self.rows.pop(name, None)
            if not rows:
                continue
            if dialect.name == "sqlite" and self.fast:
                sql, shape = self._sqlite_insert(dialect, name)
                batch.append((name, sql, [shape(r) for r in rows]))
            else:
                batch.append((name, None, rows))
        if self.rows:
            raise RuntimeError(f"rows for tables outside the write order: {sorted(self.rows)}")
        return batch

    def write(self, conn, batch: list[tuple]) -> None:
        """Execute a batch from ``take``, CHUNK rows per executemany."""
        for name, sql, params in batch:
            for start in range(0, len(params), CHUNK):
                chunk = params[start:start + CHUNK]
                if sql is not None:
                    conn.exec_driver_sql(sql, chunk)
                else:
                    conn.execute(insert(self.tables[name]), chunk)
            self.written[name] += len(params)

    def flush(self, conn, order: list[str]) -> None:
        self.write(conn, self.take(order, conn.dialect))


def _utc_text(value: datetime) -> str:
    if value.tzinfo is UTC:  # what writer.utc makes: the text before the "+00:00"
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError("naive datetime stored; rows carry UTC instants (writer.utc)")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _stored_form(type_):
    """How SQLite stores a value of this column type (SQLAlchemy's SQLite bind processors), or None."""
    if isinstance(type_, UTCDateTime | DateTime):
        return _utc_text
    if isinstance(type_, Date):
        return date.isoformat
    if isinstance(type_, Boolean):
        return int
    if isinstance(type_, JSON):
        return json.dumps
    return None


def _int_id(table) -> bool:
    return "id" in table.c and isinstance(table.c.id.type, Integer)


# --- engine settings ------------------------------------------------------------------------------------------

def loading_pragmas(conn) -> None:
    """SQLite during the load: WAL, no fsync, a large page cache, temp store in memory. Issued on the raw
    connection: through SQLAlchemy the statement would run inside the BEGIN that core.db emits, where
    ``journal_mode`` cannot change."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    # Foreign keys are not enforced row by row while loading (the generator names every id itself);
    # ``foreign_key_check`` verifies them all at once afterwards.
    for pragma in ("journal_mode=WAL", "synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY",
                   "foreign_keys=OFF"):
        raw.execute(f"PRAGMA {pragma}")


def restore_pragmas(conn) -> None:
    """Back to the settings core.db gives every connection, before this one returns to the pool."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        for pragma in ("foreign_keys=ON", "synchronous=NORMAL"):
            raw.execute(f"PRAGMA {pragma}")


def broken_references(conn) -> list:
    """SQLite: rows whose foreign keys point nowhere (after a load without enforcement)."""
    if conn.dialect.name != "sqlite":
        return []
    return conn.connection.dbapi_connection.execute("PRAGMA foreign_key_check").fetchmany(10)


def fix_sequences(conn, tables) -> None:
    """PostgreSQL: each serial/identity sequence continues after the ids the generator chose."""
    if conn.dialect.name != "postgresql":
        return
    for name in tables:
        table = db.metadata.tables[name]
        if not _int_id(table):
            continue
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 - table names
                          f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"))


def analyze(conn) -> float:
    started = time.perf_counter()
    conn.execute(text("ANALYZE"))
    if conn.dialect.name == "sqlite":
        conn.execute(text("PRAGMA optimize"))
    return time.perf_counter() - started


def checkpoint(conn) -> None:
    """SQLite: move the WAL into the database file and truncate it (outside a transaction)."""
    if conn.dialect.name == "sqlite":
        conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def count_rows(conn, tables) -> dict[str, int]:
    return {name: conn.execute(select(func.count()).select_from(db.metadata.tables[name])).scalar()
            for name in tables}
