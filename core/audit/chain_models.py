"""The audit hash chain's tables (等保三级 tamper evidence, issue #13 item 2).

``audit_seals``: one link per audit row, written only by the sealer (core.audit.chain) after the row committed, so
writers never touch the chain's head. ``seq`` is assigned by the sealer under its lock (not a database sequence,
which leaves gaps when a transaction rolls back): the chain is seq 1, 2, 3 … without holes, and an audit row that
commits after a larger id was sealed simply gets the next seq. ``audit_checkpoints``: the signed last link of each
archive the retention job wrote before it removed those rows. ``audit_verifications``: each `flask audit verify`.

Seals and checkpoints are append-only like ``audit_entries``. Deletes of entries and seals are let through only
inside the retention job's transaction: on PostgreSQL while ``SET LOCAL mdt.retention = 'on'`` holds (it ends with
the transaction, so it can never stay on for a pooled connection); on SQLite, which has no session settings, while
a row sits in ``audit_retention_lock`` (inserted and removed inside that one write transaction, so no other
connection ever sees it; `flask audit verify` fails if one was left behind). This keeps the application and a
stray ``DELETE`` out; someone with SQL access can still do what the retention job does — against that, the chain
and the signed checkpoints make the change evident.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, BigInteger, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class AuditSeal(Base):
    __tablename__ = "audit_seals"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<AuditSeal {self.seq} entry {self.entry_id}>"


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(Integer)
    #: File name of the archive under AUDIT_ARCHIVE_DIR.
    archive: Mapped[str] = mapped_column(String(200))
    #: HMAC-SM3 (AUDIT_ARCHIVE_KEY) over the checkpoint, the same value that ends the archive.
    signature: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditCheckpoint {self.first_seq}-{self.last_seq}>"


class AuditVerification(Base):
    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ok: Mapped[bool] = mapped_column()
    #: Seals recomputed in this run (from the latest checkpoint, or from the genesis).
    checked: Mapped[int] = mapped_column(Integer)
    from_seq: Mapped[int] = mapped_column(BigInteger)
    head_seq: Mapped[int | None] = mapped_column(BigInteger)
    head_hash: Mapped[str | None] = mapped_column(String(64))
    unsealed: Mapped[int] = mapped_column(Integer, default=0)
    #: The first problem found, in Chinese, naming the row (None when ok).
    problem: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"<AuditVerification {self.id} {'ok' if self.ok else 'failed'}>"


class AuditRetentionLock(Base):
    """SQLite only (see the module docstring): a row here, inside the retention job's transaction, lets the
    triggers pass its deletes. PostgreSQL has the table too (one schema for both engines) but never reads it."""

    __tablename__ = "audit_retention_lock"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


_REFUSE = "BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
_UNLESS_RETENTION = "WHEN NOT EXISTS (SELECT 1 FROM audit_retention_lock) "

SQLITE_CHAIN_DDL = [
    # Replaces the trigger of 0001kernel: deletes pass inside the retention job's transaction only.
    "DROP TRIGGER IF EXISTS audit_entries_no_delete",
    "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries " + _UNLESS_RETENTION
    + _REFUSE.format(table="audit_entries"),
    "CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals " + _REFUSE.format(table="audit_seals"),
    "CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals " + _UNLESS_RETENTION
    + _REFUSE.format(table="audit_seals"),
    "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints "
    + _REFUSE.format(table="audit_checkpoints"),
    "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints "
    + _REFUSE.format(table="audit_checkpoints"),
]
PG_CHAIN_DDL = [
    # The function of 0001kernel, now letting row deletes through while the retention job's setting is on.
    "CREATE OR REPLACE FUNCTION audit_entries_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'DELETE' AND current_setting('mdt.retention', true) = 'on' THEN RETURN OLD; END IF; "
    "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    "CREATE OR REPLACE FUNCTION audit_refuse_always() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    "CREATE TRIGGER audit_seals_no_change BEFORE UPDATE OR DELETE ON audit_seals "
    "FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse()",
    "CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_always()",
    "CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_always()",
    "CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_always()",
]

# create_all (scratch tooling) ends with the same triggers as the migrations; after every table exists.
for _stmt in SQLITE_CHAIN_DDL:
    event.listen(Base.metadata, "after_create", DDL(_stmt).execute_if(dialect="sqlite"))
for _stmt in PG_CHAIN_DDL:
    event.listen(Base.metadata, "after_create", DDL(_stmt).execute_if(dialect="postgresql"))
