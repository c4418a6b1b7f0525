"""Sealing audit rows into an SM3 hash chain, and verifying it (等保三级 tamper evidence, issue #13 item 2).

Writers only append ``audit_entries``; they never read or write the chain's head, so intake is not serialised on
it. The sealer (job "audit.seal" every minute, `flask audit seal`) takes the committed rows that have no seal yet,
in id order, and links each to the chain with the next ``seq``:

    hash = chain_hash(prev_hash, canonical(seq, row))    # SM3(prev ‖ data) behind the crypto provider

Ids are allocated before commit, so a row with a smaller id can commit after a larger one was sealed; it is simply
sealed by a later run with a later seq — the chain covers every row exactly once (UNIQUE(entry_id)) in the order
the sealer saw them, and the order is bound into each hash by ``seq``. Two sealers never fork the chain: each runs
under one lock (a transaction-level advisory lock on PostgreSQL; SQLite's write transaction excludes the other).

`flask audit verify` recomputes the chain from the latest signed checkpoint (or the genesis), names the first seal
whose row changed, went missing or moved, and the rows left unsealed longer than AUDIT_SEAL_MAX_MINUTES.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, insert, select

from core.audit.chain_models import AuditCheckpoint, AuditRetentionLock, AuditSeal, AuditVerification
from core.audit.models import AuditEntry
from core.db import db, is_postgresql, utcnow, xact_lock

logger = logging.getLogger(__name__)

#: The one lock of the chain's head: the sealer and the retention job both take it.
CHAIN_LOCK = "audit.chain"
GENESIS = "0" * 64
#: Rows one sealer statement takes at a time; a run goes on until none is left (or ``limit``).
SEAL_BATCH = 2000

entries = AuditEntry.__table__
seals = AuditSeal.__table__

#: The row's fields that the chain covers — every column, all immutable (the triggers refuse updates).
FIELDS = ("id", "at", "actor_user_id", "actor_name", "unit_id", "action", "object_type", "object_id", "result",
          "ip", "request_id", "channel", "changed_fields")


def _crypto():
    from core.crypto import provider

    return provider()


def entry_fields(values) -> dict:
    """The row (a mapping of column values) as the chain and the archives see it: plain JSON values, the time as
    UTC to the microsecond."""
    fields = {name: values[name] for name in FIELDS}
    fields["at"] = fields["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields["changed_fields"] = list(fields["changed_fields"] or [])
    return fields


def canonical(seq: int, fields: dict) -> bytes:
    """One serialisation on every engine and in every archive: sorted keys, no spaces, UTF-8."""
    return json.dumps({"seq": seq, **fields}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def link(crypto, prev_hash: str, seq: int, fields: dict) -> str:
    return crypto.chain_hash(bytes.fromhex(prev_hash), canonical(seq, fields)).hex()


def latest_checkpoint():
    return db.session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.last_seq.desc()).limit(1))


def _head():
    """(seq, hash, at of its row) of the chain's last link; before any seal, the checkpoint's or the genesis."""
    row = db.session.execute(select(seals.c.seq, seals.c.hash, entries.c.at)
                             .join(entries, entries.c.id == seals.c.entry_id)
                             .order_by(seals.c.seq.desc()).limit(1)).first()
    if row is not None:
        return row.seq, row.hash, row.at
    checkpoint = latest_checkpoint()
    if checkpoint is not None:
        return checkpoint.last_seq, checkpoint.last_hash, None
    return 0, GENESIS, None


def seal(*, full: bool = False, limit: int | None = None, lookback_minutes: int | None = None) -> int:
    """Seal the committed rows that have none yet, in the caller's transaction (the caller commits). Returns how
    many were sealed. Unless ``full``, only rows written up to ``lookback_minutes`` before the head's row are
    looked at: that finds every late commit without scanning the whole table each minute, and a row older than
    that (backdated, or held in a transaction for an hour) stays unsealed for `flask audit verify` to report."""
    from flask import current_app

    if lookback_minutes is None:
        lookback_minutes = int(current_app.config["AUDIT_SEAL_LOOKBACK_MINUTES"])
    xact_lock(CHAIN_LOCK)
    crypto = _crypto()
    seq, prev, head_at = _head()
    sealed = 0
    while limit is None or sealed < limit:
        stmt = select(entries).where(~exists().where(seals.c.entry_id == entries.c.id))
        if head_at is not None and not full:
            stmt = stmt.where(entries.c.at >= head_at - timedelta(minutes=lookback_minutes))
        take = SEAL_BATCH if limit is None else min(SEAL_BATCH, limit - sealed)
        rows = db.session.execute(stmt.order_by(entries.c.id).limit(take)).all()
        if not rows:
            break
        now = utcnow()
        links = []
        for row in rows:
            seq += 1
            digest = link(crypto, prev, seq, entry_fields(row._mapping))
            links.append({"seq": seq, "entry_id": row.id, "prev_hash": prev, "hash": digest, "sealed_at": now})
            prev = digest
        db.session.execute(insert(seals), links)
        sealed += len(rows)
        if head_at is None or rows[-1].at > head_at:
            head_at = rows[-1].at
        if len(rows) < take:
            break
    if sealed:
        logger.info("audit chain: %s rows sealed, head at seq %s", sealed, seq)
    return sealed


@dataclass
class Verification:
    ok: bool
    checked: int
    from_seq: int
    head_seq: int | None
    head_hash: str | None
    unsealed: int
    problem: str | None

    def summary(self) -> str:
        if self.ok:
            return f"审计链校验通过：自第 {self.from_seq} 号起核对 {self.checked} 条封存，链尾第 {self.head_seq or '—'} 号"
        return f"审计链校验失败：{self.problem}（已核对 {self.checked} 条封存）"


def _checkpoint_problem(checkpoint) -> str | None:
    from core.audit.archive import checkpoint_signature

    expected = checkpoint_signature(checkpoint.first_seq, checkpoint.last_seq, checkpoint.last_hash,
                                    checkpoint.row_count)
    if not hmac.compare_digest(expected, checkpoint.signature):
        return f"检查点（第 {checkpoint.first_seq}–{checkpoint.last_seq} 号，归档 {checkpoint.archive}）的签名不符"
    return None


def verify(*, now: datetime | None = None, max_minutes: int | None = None) -> Verification:
    """Walk the chain from the latest checkpoint; stop at the first broken link. Reads only."""
    from flask import current_app

    now = now or utcnow()
    if max_minutes is None:
        max_minutes = int(current_app.config["AUDIT_SEAL_MAX_MINUTES"])
    crypto = _crypto()
    checkpoint = latest_checkpoint()
    prev, expected = (checkpoint.last_hash, checkpoint.last_seq + 1) if checkpoint else (GENESIS, 1)
    from_seq = expected
    problem = _checkpoint_problem(checkpoint) if checkpoint else None
    checked = 0
    stmt = (select(seals.c.seq, seals.c.entry_id, seals.c.prev_hash, seals.c.hash.label("seal_hash"),
                   *[entries.c[name].label(f"e_{name}") for name in FIELDS])
            .outerjoin(entries, entries.c.id == seals.c.entry_id).order_by(seals.c.seq))
    result = db.session.execute(stmt.execution_options(yield_per=SEAL_BATCH)) if problem is None else []
    for row in result:
        where = f"第 {row.seq} 号封存（审计记录 #{row.entry_id}）"
        if row.seq != expected:
            problem = (f"封存序号不连续：应为第 {expected} 号，实为{where}——其间的记录被删除或移动"
                       if row.seq > expected else f"{where}在检查点或前一封存之前，不应存在")
        elif row.e_id is None:
            problem = f"{where}的审计记录已不存在（被删除）"
        elif row.prev_hash != prev:
            problem = f"{where}的前一哈希与链不符（链被改接）"
        else:
            fields = entry_fields({name: row._mapping[f"e_{name}"] for name in FIELDS})
            if not hmac.compare_digest(link(crypto, prev, row.seq, fields), row.seal_hash):
                problem = f"审计记录 #{row.entry_id}（第 {row.seq} 号封存）的内容与封存哈希不符（记录被改动或调换）"
        if problem:
            break
        checked += 1
        prev, expected = row.seal_hash, row.seq + 1
    if hasattr(result, "close"):
        result.close()
    unsealed_q = select(entries.c.id).where(~exists().where(seals.c.entry_id == entries.c.id),
                                            entries.c.at < now - timedelta(minutes=max_minutes))
    unsealed = db.session.scalar(select(func.count()).select_from(unsealed_q.subquery()))
    if unsealed and problem is None:
        first = db.session.scalar(unsealed_q.order_by(entries.c.id).limit(1))
        problem = f"{unsealed} 条审计记录超过 {max_minutes} 分钟仍未封存，最早的是审计记录 #{first}"
    if problem is None and not is_postgresql() and db.session.scalar(select(func.count()).select_from(
            AuditRetentionLock)):
        problem = "留存清理标记未清除（audit_retention_lock 中有行）：此时审计记录可被删除"
    head_seq = expected - 1 if checked or checkpoint else None
    return Verification(ok=problem is None, checked=checked, from_seq=from_seq, head_seq=head_seq,
                        head_hash=prev if head_seq else None, unsealed=unsealed, problem=problem)


def record_verification(outcome: Verification) -> AuditVerification:
    """Keep the outcome for the auditor's page (the caller commits)."""
    row = AuditVerification(ok=outcome.ok, checked=outcome.checked, from_seq=outcome.from_seq,
                            head_seq=outcome.head_seq, head_hash=outcome.head_hash, unsealed=outcome.unsealed,
                            problem=(outcome.problem or None) and outcome.problem[:500], at=utcnow())
    db.session.add(row)
    db.session.flush()
    return row


def latest_verification():
    return db.session.scalar(select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1))
