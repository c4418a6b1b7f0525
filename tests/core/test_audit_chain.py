"""The audit hash chain (等保三级, issue #13 item 2): sealed in seal order by a job, never on the write path; a late
commit sealed exactly once; two sealers, one chain; `flask audit verify` names the first broken or unsealed row;
retention archives to a signed file that verifies before anything is deleted, and verify starts at its checkpoint."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from core.actor import Actor
from core.audit import chain
from core.audit.archive import ArchiveError, verify_archive
from core.audit.chain_models import AuditCheckpoint, AuditSeal
from core.audit.models import AuditEntry
from core.audit.retention import apply_retention
from core.config import ConfigError, load_config
from tests import dbutil
from tests.conftest import make_app

entries = AuditEntry.__table__
seals = AuditSeal.__table__
PG = dbutil.ENGINE == "postgresql"


def add_entry(session, *, at=None, id=None, action="test.chain") -> int:
    values = {"at": at or datetime.now(UTC), "actor_name": "test", "action": action, "result": "ok",
              "changed_fields": ["status"]}
    if id is not None:
        values["id"] = id
    return session.execute(insert(entries).values(**values).returning(entries.c.id)).scalar_one()


def chain_rows(session):
    return session.execute(select(seals.c.seq, seals.c.entry_id).order_by(seals.c.seq)).all()


def unsealed(session) -> int:
    return session.scalar(select(func.count()).select_from(entries).where(
        ~select(seals.c.seq).where(seals.c.entry_id == entries.c.id).exists()))


@contextlib.contextmanager
def triggers_off(session):
    """The tamperer's tool: PostgreSQL's replica role skips triggers (and FK checks) for this transaction; on SQLite
    the triggers are dropped and put back inside the transaction (SQLite's DDL is transactional)."""
    if PG:
        session.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        session.execute(text("SET LOCAL session_replication_role = origin"))
        return
    saved = session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                 "('audit_entries', 'audit_seals')")).all()
    for name, _sql in saved:
        session.execute(text(f"DROP TRIGGER {name}"))
    yield
    for _name, sql in saved:
        session.execute(text(sql))


# --- sealing --------------------------------------------------------------------------------------------------

def test_rows_are_sealed_in_order_and_the_chain_verifies(db):
    for _ in range(5):
        add_entry(db.session)
    count = db.session.scalar(select(func.count()).select_from(entries))
    assert chain.seal() == count
    rows = chain_rows(db.session)
    assert [r.seq for r in rows] == list(range(1, count + 1))
    assert [r.entry_id for r in rows] == sorted(r.entry_id for r in rows)
    assert unsealed(db.session) == 0 and chain.seal() == 0  # idempotent
    first = db.session.execute(select(seals).order_by(seals.c.seq).limit(1)).one()
    assert first.prev_hash == chain.GENESIS and len(first.hash) == 64
    outcome = chain.verify()
    assert outcome.ok, outcome.problem
    assert (outcome.checked, outcome.from_seq, outcome.head_seq) == (count, 1, count)


def test_chain_hash_is_sm3_of_prev_and_data_behind_the_provider(app):
    from cryptography.hazmat.primitives import hashes

    from core.crypto import provider

    with app.app_context():
        digest = hashes.Hash(hashes.SM3())
        digest.update(b"\x01" * 32 + b"row")
        assert provider().chain_hash(b"\x01" * 32, b"row") == digest.finalize()


def test_a_late_commit_with_a_lower_id_is_sealed_exactly_once(db):
    top = add_entry(db.session)
    add_entry(db.session, id=top + 10)
    chain.seal()
    late = add_entry(db.session, id=top + 5)  # its id was taken before the others committed
    assert chain.seal() == 1
    rows = chain_rows(db.session)
    assert [r.entry_id for r in rows][-2:] == [top + 10, late]  # a later seq, not a place in id order
    assert len({r.entry_id for r in rows}) == len(rows) == db.session.scalar(select(func.count()).select_from(entries))
    assert chain.verify().ok


@pytest.mark.skipif(not PG, reason="SQLite allocates rowids under its single write lock: no late commits")
def test_a_transaction_committing_late_on_postgresql(fresh_url):
    from core.db import db as _db

    app = make_app(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as slow:
            slow.begin()
            early = add_entry(slow)  # id allocated, not committed
            with engine.begin() as fast:
                quick = add_entry(fast)
            with app.app_context():
                chain.seal()
                _db.session.commit()
                assert early not in {r.entry_id for r in chain_rows(_db.session)}
            slow.commit()
        with app.app_context():
            assert chain.seal() == 1
            _db.session.commit()
            rows = chain_rows(_db.session)
            assert [r.entry_id for r in rows][-2:] == [quick, early] and early < quick
            assert chain.verify().ok
            _db.session.remove()  # its connection back in the pool, which dispose closes
            _db.engine.dispose()
    finally:
        engine.dispose()


def test_two_sealers_at_once_make_one_chain(fresh_url):
    from core.db import db as _db
    from core.db import write_intent

    app = make_app(fresh_url)
    errors = []
    stop = threading.Event()

    def writer():
        with app.app_context():
            while not stop.is_set():
                with write_intent():
                    for _ in range(20):
                        add_entry(_db.session)
                    _db.session.commit()

    def sealer():
        try:
            with app.app_context():
                for _ in range(15):
                    with write_intent():
                        chain.seal()
                        _db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    feeder = threading.Thread(target=writer)
    feeder.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    feeder.join(60)
    assert not errors, errors
    with app.app_context(), write_intent():
        chain.seal()
        _db.session.commit()
        rows = chain_rows(_db.session)
        total = _db.session.scalar(select(func.count()).select_from(entries))
        assert [r.seq for r in rows] == list(range(1, total + 1))  # no fork, no gap
        assert len({r.entry_id for r in rows}) == total  # every row once
        assert _db.session.scalar(select(func.count()).select_from(seals).where(seals.c.prev_hash == chain.GENESIS)) == 1
        assert chain.verify().ok
        _db.session.remove()  # its connection back in the pool, which dispose closes
        _db.engine.dispose()


def test_intake_does_not_touch_the_chain(db, demo):
    from tests.factories import make_case

    chain.seal()
    before = db.session.scalar(select(func.count()).select_from(seals))
    statements = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        make_case(demo)
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert any("audit_entries" in s for s in statements)  # the audit row is written …
    assert not [s for s in statements if "audit_seals" in s]  # … and the chain's head is not read or written
    assert db.session.scalar(select(func.count()).select_from(seals)) == before
    assert unsealed(db.session) >= 1


def test_the_jobs_are_registered():
    from core.scheduler.registry import registered_jobs

    names = {spec.name for spec in registered_jobs()}
    assert {"audit.seal", "audit.verify", "audit.retention"} <= names


# --- tampering ---------------------------------------------------------------------------------------------------

def _sealed_chain(session, n=6):
    ids = [add_entry(session) for _ in range(n)]
    chain.seal()
    seq = dict(session.execute(select(seals.c.entry_id, seals.c.seq)).all())
    return ids, seq


def test_a_changed_field_is_named(db):
    ids, seq = _sealed_chain(db.session)
    with triggers_off(db.session):
        db.session.execute(text("UPDATE audit_entries SET actor_name = 'someone else' WHERE id = :i"), {"i": ids[2]})
    outcome = chain.verify()
    assert not outcome.ok
    assert f"审计记录 #{ids[2]}（第 {seq[ids[2]]} 号封存）的内容与封存哈希不符" in outcome.problem
    assert outcome.checked == seq[ids[2]] - 1


def test_a_deleted_row_is_named(db):
    ids, seq = _sealed_chain(db.session)
    with triggers_off(db.session):
        db.session.execute(text("DELETE FROM audit_seals WHERE entry_id = :i"), {"i": ids[3]})
        db.session.execute(text("DELETE FROM audit_entries WHERE id = :i"), {"i": ids[3]})
    problem = chain.verify().problem
    assert f"应为第 {seq[ids[3]]} 号" in problem and f"审计记录 #{ids[4]}" in problem


def test_a_deleted_seal_leaves_its_row_unsealed_and_breaks_the_chain(db):
    ids, seq = _sealed_chain(db.session)
    with triggers_off(db.session):
        db.session.execute(text("DELETE FROM audit_seals WHERE entry_id = :i"), {"i": ids[-1]})
    later = datetime.now(UTC) + timedelta(minutes=30)
    assert f"审计记录 #{ids[-1]}" in chain.verify(now=later).problem


def test_a_forged_row_is_named(db):
    ids, seq = _sealed_chain(db.session)
    forged = add_entry(db.session, action="login")
    head = db.session.execute(select(seals.c.seq, seals.c.hash).order_by(seals.c.seq.desc()).limit(1)).one()
    db.session.execute(insert(seals).values(seq=head.seq + 1, entry_id=forged, prev_hash=head.hash,
                                            hash="ab" * 32, sealed_at=datetime.now(UTC)))
    assert f"审计记录 #{forged}（第 {head.seq + 1} 号封存）的内容与封存哈希不符" in chain.verify().problem


def test_a_backdated_row_is_left_unsealed_and_reported(db):
    ids, seq = _sealed_chain(db.session)
    forged = add_entry(db.session, at=datetime.now(UTC) - timedelta(days=3), action="login")
    chain.seal()  # the sealer looks back an hour before its head, not three days
    outcome = chain.verify()
    assert not outcome.ok and outcome.unsealed == 1
    assert f"最早的是审计记录 #{forged}" in outcome.problem


def test_two_swapped_rows_are_named(db):
    ids, seq = _sealed_chain(db.session)
    a, b = seq[ids[1]], seq[ids[2]]
    with triggers_off(db.session):
        db.session.execute(text("UPDATE audit_seals SET seq = -1 WHERE seq = :a"), {"a": a})
        db.session.execute(text("UPDATE audit_seals SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
        db.session.execute(text("UPDATE audit_seals SET seq = :b WHERE seq = -1"), {"b": b})
    problem = chain.verify().problem
    assert f"第 {a} 号封存（审计记录 #{ids[2]}）" in problem


def test_rows_unsealed_too_long_are_reported(db):
    chain.seal()
    waiting = add_entry(db.session)
    assert chain.verify().ok  # just written: the sealer has ten minutes
    outcome = chain.verify(now=datetime.now(UTC) + timedelta(minutes=11))
    assert not outcome.ok and outcome.unsealed == 1
    assert f"超过 10 分钟仍未封存，最早的是审计记录 #{waiting}" in outcome.problem


def test_plain_deletes_and_updates_are_still_refused(fresh_url):
    engine = create_engine(fresh_url)
    app = make_app(fresh_url)
    try:
        from core.db import db as _db
        from core.db import write_intent

        with app.app_context(), write_intent():
            chain.seal()
            _db.session.commit()
            _db.session.remove()  # its connection back in the pool, which dispose closes
            _db.engine.dispose()
        statements = ["DELETE FROM audit_entries", "DELETE FROM audit_seals", "UPDATE audit_seals SET hash = 'x'",
                      "UPDATE audit_entries SET action = 'x'"]
        if PG:
            statements += ["TRUNCATE audit_seals", "TRUNCATE audit_entries CASCADE"]
        for statement in statements:
            with engine.connect() as conn:
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(text(statement))
                conn.rollback()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_seals")).scalar() > 0
    finally:
        engine.dispose()


# --- retention ---------------------------------------------------------------------------------------------------

def test_retention_days_below_six_months_refused_at_start_up():
    with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS must be at least 184"):
        load_config({"MEDIATION_ENV": "test", "AUDIT_RETENTION_DAYS": 100})
    assert load_config({"MEDIATION_ENV": "test", "AUDIT_RETENTION_DAYS": 400})["AUDIT_RETENTION_DAYS"] == 400
    assert load_config({"MEDIATION_ENV": "test"})["AUDIT_RETENTION_DAYS"] == 184


def test_production_needs_its_own_archive_key():
    from tests.core.test_demo_and_config import PRODUCTION_KEYS

    keys = {k: v for k, v in PRODUCTION_KEYS.items() if k != "AUDIT_ARCHIVE_KEY"}
    with pytest.raises(ConfigError, match="AUDIT_ARCHIVE_KEY must be set"):
        load_config({"MEDIATION_ENV": "production", **keys})


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", *args])


def test_retention_archives_verifies_checkpoints_then_removes(fresh_url, tmp_path):
    from core.db import db as _db
    from core.db import write_intent

    app = make_app(fresh_url, AUDIT_ARCHIVE_DIR=str(tmp_path))
    future = datetime.now(UTC) + timedelta(days=200)  # today's rows are 200 days old then
    with app.app_context(), write_intent():
        old = [add_entry(_db.session) for _ in range(3)]
        chain.seal()
        old_count = _db.session.scalar(select(func.count()).select_from(entries))
        young = [add_entry(_db.session, at=future - timedelta(days=1)) for _ in range(2)]
        chain.seal()
        summary = apply_retention(Actor.system("job"), now=future)
        _db.session.commit()
        assert f"已归档并清理 {old_count} 条审计记录" in summary
        checkpoint = _db.session.scalar(select(AuditCheckpoint))
        assert (checkpoint.first_seq, checkpoint.last_seq, checkpoint.row_count) == (1, old_count, old_count)
        left = set(_db.session.scalars(select(entries.c.id)))
        assert not left & set(old) and set(young) <= left
        assert _db.session.scalar(select(func.min(seals.c.seq))) == old_count + 1
        # the retention job's own audit row joins the chain after the checkpoint (full: its time is today's clock,
        # 200 days before the pinned future's rows, beyond the sealer's look-back)
        chain.seal(full=True)
        _db.session.commit()
        outcome = chain.verify(now=future)
        assert outcome.ok, outcome.problem
        assert outcome.from_seq == old_count + 1 and outcome.checked == 3
        _db.session.remove()  # its connection back in the pool, which dispose closes
        _db.engine.dispose()
    path = os.path.join(tmp_path, checkpoint.archive)
    with app.app_context():
        assert verify_archive(path)["last_hash"] == checkpoint.last_hash
    result = _cli(app, "verify-archive", path)
    assert result.exit_code == 0 and f"共 {old_count} 条" in result.output
    result = _cli(app, "verify")
    assert result.exit_code == 0, result.output
    assert f"自第 {old_count + 1} 号起" in result.output

    # one changed character in the archive: verify-archive names the line
    with gzip.open(path, "rb") as handle:
        lines = handle.read().decode("utf-8").splitlines()
    row = json.loads(lines[2])
    row["entry"]["actor_name"] = "改过的"
    lines[2] = json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    tampered = os.path.join(tmp_path, "tampered.jsonl.gz")
    with gzip.open(tampered, "wb") as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    result = _cli(app, "verify-archive", tampered)
    assert result.exit_code != 0 and "第 3 行" in result.output and "内容与封存哈希不符" in result.output
    # a cut-off archive (no checkpoint) fails too
    with gzip.open(tampered, "wb") as handle:
        handle.write(("\n".join(lines[:-1]) + "\n").encode("utf-8"))
    assert _cli(app, "verify-archive", tampered).exit_code != 0
    with app.app_context():
        _db.session.remove()  # its connection back in the pool, which dispose closes
        _db.engine.dispose()


def test_retention_refuses_when_the_archive_does_not_verify(db, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_ARCHIVE_DIR", str(tmp_path))
    ids, seq = _sealed_chain(db.session, n=3)
    with triggers_off(db.session):  # a row changed after it was sealed: its archive cannot verify
        db.session.execute(text("UPDATE audit_entries SET action = 'x' WHERE id = :i"), {"i": ids[0]})
    before = db.session.scalar(select(func.count()).select_from(entries))
    with pytest.raises(ArchiveError, match="内容与封存哈希不符"):
        apply_retention(Actor.system("job"), now=datetime.now(UTC) + timedelta(days=200))
    assert db.session.scalar(select(func.count()).select_from(entries)) == before
    assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0
    assert [name for name in os.listdir(tmp_path) if name.endswith(".failed")]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".jsonl.gz")]


def test_nothing_young_enough_is_archived(db, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_ARCHIVE_DIR", str(tmp_path))
    chain.seal()
    assert "没有超过 184 天" in apply_retention(Actor.system("job"), now=datetime.now(UTC) + timedelta(days=183))
    assert os.listdir(tmp_path) == []


# --- the auditor's page ---------------------------------------------------------------------------------------------

def test_the_auditor_page_shows_the_last_verification(db, signed_in):
    auditor = signed_in("auditor")
    assert "尚未校验" in auditor.get("/admin/audit").get_data(as_text=True)
    chain.seal()
    chain.record_verification(chain.verify())
    page = auditor.get("/admin/audit").get_data(as_text=True)
    assert "最近一次哈希链校验" in page and "通过" in page
    chain.record_verification(chain.Verification(ok=False, checked=3, from_seq=1, head_seq=3, head_hash=None,
                                                 unsealed=0, problem="审计记录 #7（第 7 号封存）的内容与封存哈希不符"))
    page = auditor.get("/admin/audit").get_data(as_text=True)
    assert "未通过" in page and "审计记录 #7（第 7 号封存）" in page
