"""Audit retention (网络安全法 Art. 21: at least six months): the job "audit.retention" is the only code that removes
audit rows, and only rows that a signed archive holds and that archive verified.

One run, under the chain's lock: take the oldest stretch of the chain (from the latest checkpoint on) whose rows are
all older than AUDIT_RETENTION_DAYS — a prefix by seq, so the live chain keeps no hole —, write it with its seals
to a signed archive, re-read and verify the file, and only then, in the same transaction, record the checkpoint,
let the triggers pass and delete those rows and their seals. Any failure raises: the job fails, the transaction
rolls back, nothing is deleted. There is no command to delete audit rows by hand.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select, text

from core.audit.archive import ArchiveError, verify_archive, write_archive
from core.audit.chain import CHAIN_LOCK, GENESIS, entries, entry_fields, latest_checkpoint, seals
from core.audit.chain_models import AuditCheckpoint, AuditRetentionLock
from core.db import db, is_postgresql, utcnow, xact_lock

logger = logging.getLogger(__name__)

#: Rows one run archives at most (one file); a larger backlog takes the next days' runs.
MAX_ROWS_PER_ARCHIVE = 100_000
_DELETE_CHUNK = 500


def archive_dir() -> str:
    configured = current_app.config.get("AUDIT_ARCHIVE_DIR")
    return configured or os.path.join(current_app.instance_path, "audit-archive")


def _allow_deletes(on: bool) -> None:
    """Open or close the triggers' door for this transaction only (core.audit.chain_models explains both)."""
    if is_postgresql():
        db.session.execute(text("SELECT set_config('mdt.retention', :v, true)"), {"v": "on" if on else "off"})
    elif on:
        db.session.execute(insert(AuditRetentionLock).values(id=1))
    else:
        db.session.execute(delete(AuditRetentionLock))


def _expired_range(cutoff, first_seq: int) -> int:
    """The last seq of the prefix from ``first_seq`` whose rows are all older than ``cutoff`` (first_seq - 1: none)."""
    young = db.session.scalar(select(func.min(seals.c.seq)).join(entries, entries.c.id == seals.c.entry_id)
                              .where(seals.c.seq >= first_seq, entries.c.at >= cutoff))
    last = young - 1 if young is not None else db.session.scalar(select(func.max(seals.c.seq))) or first_seq - 1
    return min(last, first_seq + MAX_ROWS_PER_ARCHIVE - 1)


def _archived_rows(first_seq: int, last_seq: int, ids: list):
    stmt = (select(seals.c.seq, seals.c.prev_hash, seals.c.hash, seals.c.sealed_at, entries)
            .join(entries, entries.c.id == seals.c.entry_id)
            .where(seals.c.seq.between(first_seq, last_seq)).order_by(seals.c.seq))
    for row in db.session.execute(stmt.execution_options(yield_per=2000)):
        ids.append(row.id)
        yield {"seq": row.seq, "prev_hash": row.prev_hash, "hash": row.hash,
               "sealed_at": row.sealed_at.isoformat(), "entry": entry_fields(row._mapping)}


def apply_retention(actor, *, now=None) -> str:
    """Archive and remove the audit rows past retention (the caller — the job — commits). A summary in Chinese."""
    from core.audit.operations import record

    now = now or utcnow()
    days = int(current_app.config["AUDIT_RETENTION_DAYS"])
    xact_lock(CHAIN_LOCK)
    checkpoint = latest_checkpoint()
    first_seq, start_hash = (checkpoint.last_seq + 1, checkpoint.last_hash) if checkpoint else (1, GENESIS)
    last_seq = _expired_range(now - timedelta(days=days), first_seq)
    if last_seq < first_seq:
        return f"没有超过 {days} 天的已封存审计记录"
    directory = archive_dir()
    os.makedirs(directory, exist_ok=True)
    name = f"audit-{first_seq:010d}-{last_seq:010d}-{now.strftime('%Y%m%dT%H%M%SZ')}.jsonl.gz"
    path = os.path.join(directory, name)
    ids: list[int] = []
    write_archive(path, _archived_rows(first_seq, last_seq, ids), first_seq=first_seq, start_hash=start_hash,
                  created_at=now.isoformat())
    try:
        verified = verify_archive(path)
        if (verified["first_seq"], verified["last_seq"], verified["count"], verified["start_hash"]) != (
                first_seq, last_seq, last_seq - first_seq + 1, start_hash):
            raise ArchiveError("归档的范围与要清理的封存不一致")
    except ArchiveError:
        os.replace(path, path + ".failed")  # kept for inspection, never taken for a good archive
        logger.error("audit retention: archive %s failed its verification; nothing removed", name)
        raise
    db.session.add(AuditCheckpoint(first_seq=first_seq, last_seq=last_seq, last_hash=verified["last_hash"],
                                   row_count=verified["count"], archive=name, signature=verified["signature"],
                                   at=now))
    _allow_deletes(True)
    db.session.execute(delete(seals).where(seals.c.seq.between(first_seq, last_seq)))
    for start in range(0, len(ids), _DELETE_CHUNK):
        db.session.execute(delete(entries).where(entries.c.id.in_(ids[start:start + _DELETE_CHUNK])))
    _allow_deletes(False)
    record(actor, "audit.archived", object_type="audit_archive", object_id=name[:64])
    db.session.flush()
    logger.info("audit retention: %s rows (seq %s-%s) archived to %s and removed", len(ids), first_seq, last_seq,
                name)
    return f"已归档并清理 {len(ids)} 条审计记录（第 {first_seq}–{last_seq} 号封存），归档 {name}"
