"""The capacity primitive of core/db.py: one conditional UPDATE takes a unit, a CHECK is the backstop.

Scratch tables live on their own MetaData (never the project's, so the migration check sees no new model);
they are created and dropped inside each test. The race tests put 50 takers on the last unit, across two
processes, and decide by the state afterwards: exactly one took it, nobody failed.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

from core.db import (
    NAMING_CONVENTION,
    CapacityMixin,
    capacity_columns,
    configure_engine_options,
    release_capacity,
    reset_write_intent,
    set_write_intent,
    take_capacity,
    write_intent,
)
from tests import dbutil


class _ScratchBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Seat(CapacityMixin, _ScratchBase):
    __tablename__ = "capacity_scratch_seats"
    # A model with its own __table_args__ keeps the mixin's CHECK.
    __table_args__ = (UniqueConstraint("label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(20))


def _posts_table(metadata: MetaData) -> Table:
    """A Core capacity table with its own column names."""
    return Table("capacity_scratch_posts", metadata, Column("post_id", Integer, primary_key=True),
                 *capacity_columns(capacity="seats", taken="booked"))


POST_NAMES = {"id_column": "post_id", "capacity_column": "seats", "taken_column": "booked"}


@pytest.fixture()
def connection(db):
    """The test's connection (rolled back by the db fixture), with the scratch tables created on it."""
    conn = db.engines[None]
    posts = _posts_table(MetaData(naming_convention=NAMING_CONVENTION))
    Seat.__table__.create(conn)
    posts.create(conn)
    yield conn, posts
    db.session.rollback()  # leaves any failed savepoint, so the drops run
    posts.drop(conn)
    Seat.__table__.drop(conn)


def _seat(db, capacity, taken=0) -> Seat:
    seat = Seat(label=f"s{capacity}-{taken}", capacity=capacity, taken=taken)
    db.session.add(seat)
    db.session.flush()
    return seat


def _taken(db, seat_id) -> int:
    return db.session.execute(select(Seat.__table__.c.taken).where(Seat.__table__.c.id == seat_id)).scalar_one()


# --- declaration ----------------------------------------------------------------------------------------------

def test_mixin_and_core_helper_declare_not_null_counts_and_a_check():
    for table, capacity, taken in ((Seat.__table__, "capacity", "taken"),
                                   (_posts_table(MetaData(naming_convention=NAMING_CONVENTION)), "seats",
                                    "booked")):
        assert not table.c[capacity].nullable and not table.c[taken].nullable
        assert isinstance(table.c[capacity].type, Integer) and isinstance(table.c[taken].type, Integer)
        checks = [c for c in table.constraints if isinstance(c, CheckConstraint)]
        assert [c.name for c in checks] == [f"ck_{table.name}_capacity"]
        assert str(checks[0].sqltext) == f"{taken} >= 0 AND {taken} <= {capacity}"
    assert any(isinstance(c, UniqueConstraint) for c in Seat.__table__.constraints)


def test_single_table_subclass_does_not_repeat_the_check():
    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    class Slot(CapacityMixin, Base):
        __tablename__ = "capacity_scratch_slots"
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str] = mapped_column(String(10))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "slot"}

    class DutySlot(Slot):
        __mapper_args__ = {"polymorphic_identity": "duty"}

    assert DutySlot.__table__ is Slot.__table__
    assert sum(isinstance(c, CheckConstraint) for c in Slot.__table__.constraints) == 1


# --- take and release -------------------------------------------------------------------------------------------

def test_take_succeeds_until_full_then_refuses_and_changes_nothing(db, connection):
    seat = _seat(db, capacity=3)
    statements = []
    conn = db.session.connection()
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(conn, "before_cursor_execute", listener)
    try:
        assert take_capacity(Seat, seat.id) is True
    finally:
        event.remove(conn, "before_cursor_execute", listener)
    # One statement, no read first.
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("UPDATE"), statements
    assert seat.taken == 1  # the loaded instance is refreshed, not left stale

    assert take_capacity(Seat, seat.id) is True
    assert take_capacity(Seat, seat.id, amount=2) is False  # one unit left, two asked
    assert take_capacity(Seat, seat.id) is True
    assert _taken(db, seat.id) == 3
    assert take_capacity(Seat, seat.id) is False
    assert take_capacity(Seat, seat.id) is False
    assert _taken(db, seat.id) == 3 and seat.taken == 3
    assert take_capacity(Seat, seat.id + 1000) is False  # no such row


def test_release_frees_a_unit_and_never_goes_below_zero(db, connection):
    seat = _seat(db, capacity=2, taken=2)
    assert take_capacity(Seat, seat.id) is False
    assert release_capacity(Seat, seat.id) is True
    assert _taken(db, seat.id) == 1
    assert take_capacity(Seat, seat.id) is True  # the freed unit can be taken again
    assert release_capacity(Seat, seat.id, amount=3) is False  # more than taken
    assert release_capacity(Seat, seat.id, amount=2) is True
    assert _taken(db, seat.id) == 0 and seat.taken == 0

    seat.capacity = 1  # not flushed yet: the primitive flushes first, as an ORM query would
    assert take_capacity(Seat, seat.id) is True
    assert take_capacity(Seat, seat.id) is False

    empty = _seat(db, capacity=5)
    assert release_capacity(Seat, empty.id) is False
    assert _taken(db, empty.id) == 0


def test_core_table_with_own_column_names_on_a_connection(db, connection):
    conn, posts = connection
    post_id = conn.execute(insert(posts).values(seats=1)).inserted_primary_key[0]
    assert conn.execute(select(posts.c.booked).where(posts.c.post_id == post_id)).scalar_one() == 0  # default
    assert take_capacity(posts, post_id, session=conn, **POST_NAMES) is True
    assert take_capacity(posts, post_id, session=conn, **POST_NAMES) is False
    names = {k: v for k, v in POST_NAMES.items() if k != "capacity_column"}
    assert release_capacity(posts, post_id, session=conn, **names) is True
    assert release_capacity(posts, post_id, session=conn, **names) is False
    assert conn.execute(select(posts.c.booked).where(posts.c.post_id == post_id)).scalar_one() == 0


@pytest.mark.parametrize("amount", [0, -1, True, 1.5, "1"])
def test_amount_must_be_a_positive_integer(db, connection, amount):
    seat = _seat(db, capacity=3)
    with pytest.raises(ValueError):
        take_capacity(Seat, seat.id, amount=amount)
    with pytest.raises(ValueError):
        release_capacity(Seat, seat.id, amount=amount)


def test_check_refuses_a_direct_write_past_capacity_or_below_zero(db, connection):
    """The backstop: code that bypasses the primitive cannot overbook."""
    conn, posts = connection
    seat = _seat(db, capacity=2, taken=2)
    seats = Seat.__table__
    for values in ({"taken": seats.c.taken + 1}, {"taken": -1}, {"capacity": 1}):
        with pytest.raises(IntegrityError, match="(?i)check|ck_capacity_scratch_seats_capacity"), \
                db.session.begin_nested():
            db.session.execute(update(seats).where(seats.c.id == seat.id).values(values))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(insert(seats).values(label="over", capacity=1, taken=2))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(insert(posts).values(seats=1, booked=2))
    assert _taken(db, seat.id) == 2


# --- 50 concurrent takers for the last unit -------------------------------------------------------------------

TAKERS = 50
CAPACITY = 7
BARRIER_SECONDS = 60  # only guards against a hang; the outcome is decided by state, not time
_log = threading.local()


def _engine(url: str):
    """The project's engine options (busy timeout, pre-ping) and core.db's connect/begin listeners (WAL,
    BEGIN IMMEDIATE under write intent). No pool: every taker holds its own connection at the barrier."""
    from core.config import DefaultConfig

    cfg = {"SQLALCHEMY_DATABASE_URI": url, "SQLITE_BUSY_TIMEOUT_MS": DefaultConfig.SQLITE_BUSY_TIMEOUT_MS}
    configure_engine_options(cfg)
    engine = create_engine(url, poolclass=NullPool, **cfg["SQLALCHEMY_ENGINE_OPTIONS"])

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):
        getattr(_log, "statements", []).append(" ".join(statement.split()))

    return engine


def _take_last_unit(engine, table, row_id, barrier) -> tuple[str, list[str]]:
    _log.statements = []
    token = set_write_intent(True)  # a context variable: each thread is its own unit of work that writes
    try:
        with engine.connect() as conn:
            barrier.wait(timeout=BARRIER_SECONDS)
            with conn.begin():  # BEGIN IMMEDIATE on SQLite; the commit at the end of the block is the caller's
                took = take_capacity(table, row_id, session=conn, **POST_NAMES)
        return ("took" if took else "full"), _log.statements
    except Exception as exc:  # noqa: BLE001 - every failure is reported and fails the test
        return f"error: {exc!r}", _log.statements
    finally:
        reset_write_intent(token)


def _run_takers(url: str, row_id: int, threads: int, barrier) -> list[tuple[str, list[str]]]:
    engine = _engine(url)
    posts = _posts_table(MetaData())
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(_take_last_unit, engine, posts, row_id, barrier) for _ in range(threads)]
            return [f.result() for f in futures]
    finally:
        engine.dispose()


def _taker_process(url: str, row_id: int, threads: int, barrier, results) -> None:
    """Runs in a spawned process: its own engine, ``threads`` takers, one list of outcomes back."""
    try:
        outcomes = _run_takers(url, row_id, threads, barrier)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        outcomes = [(f"error: {exc!r}", [])]
        barrier.abort()
    results.put(outcomes)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2], ids=["threads", "two-processes"])
def test_fifty_concurrent_takers_for_the_last_unit(tmp_path, processes):
    url = dbutil.fresh_database_url(tmp_path)  # a SQLite file in tmp_path, or a fresh PostgreSQL database
    engine = _engine(url)
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    posts = _posts_table(metadata)
    try:
        metadata.create_all(engine)
        with write_intent(), engine.begin() as conn:
            row_id = conn.execute(insert(posts).values(seats=CAPACITY, booked=CAPACITY - 1)
                                  ).inserted_primary_key[0]

        if processes == 1:
            outcomes = _run_takers(url, row_id, TAKERS, threading.Barrier(TAKERS))
        else:
            ctx = multiprocessing.get_context("spawn")
            barrier, results = ctx.Barrier(TAKERS), ctx.Queue()
            share = [TAKERS // processes + (i < TAKERS % processes) for i in range(processes)]
            procs = [ctx.Process(target=_taker_process, args=(url, row_id, n, barrier, results)) for n in share]
            for proc in procs:
                proc.start()
            outcomes = [o for _ in procs for o in results.get(timeout=4 * BARRIER_SECONDS)]
            for proc in procs:
                proc.join(BARRIER_SECONDS)
            results.close()
            results.join_thread()
            assert [proc.exitcode for proc in procs] == [0] * processes

        errors = [(o, log) for o, log in outcomes if o.startswith("error")]
        assert errors == []
        assert sorted(o for o, _ in outcomes) == ["full"] * (TAKERS - 1) + ["took"]
        for _, log in outcomes:
            assert sum(s.startswith("UPDATE") for s in log) == 1, log  # one statement per taker
            if engine.dialect.name == "sqlite":
                assert log[0] == "BEGIN IMMEDIATE", log
        with engine.connect() as conn:
            assert conn.execute(select(posts.c.booked).where(posts.c.post_id == row_id)).scalar_one() == CAPACITY
            assert conn.execute(text("SELECT count(*) FROM capacity_scratch_posts")).scalar_one() == 1
        metadata.drop_all(engine)
    finally:
        engine.dispose()
        dbutil.drop_database(url)
