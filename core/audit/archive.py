"""Signed audit archives: gzip'd JSON lines that the retention job writes before it removes any audit row.

    {"kind": "header", "format": "mdt-audit-archive/1", "first_seq": 1, "start_hash": "<hash before it>", …}
    {"kind": "row", "seq": 1, "prev_hash": "…", "hash": "…", "sealed_at": "…", "entry": {<the row's fields>}}
    …
    {"kind": "checkpoint", "first_seq": 1, "last_seq": n, "last_hash": "…", "count": n, "signature": "<HMAC-SM3>"}

Every row carries its seal, so the archive re-checks on its own: each hash is recomputed from the row and the
previous hash (the same ``canonical`` serialisation as the live chain), and the last one must be the signed
checkpoint's. The signature (AUDIT_ARCHIVE_KEY) covers the checkpoint, whose hash covers every row before it, so a
changed, dropped, added or reordered row, a cut-off file or a forged checkpoint all fail ``verify_archive``.
"""

from __future__ import annotations

import gzip
import hmac
import json
import os
from collections.abc import Iterable

from core.audit.chain import FIELDS, link

FORMAT = "mdt-audit-archive/1"


class ArchiveError(Exception):
    """The archive does not verify; the message (Chinese) names the line and what is wrong."""


def _key() -> bytes:
    from flask import current_app

    key = current_app.config.get("AUDIT_ARCHIVE_KEY")
    if not key:
        raise ArchiveError("未配置 MEDIATION_AUDIT_ARCHIVE_KEY，无法签署或校验审计归档")
    return bytes.fromhex(key)


def _crypto():
    from core.crypto import provider

    return provider()


def checkpoint_signature(first_seq: int, last_seq: int, last_hash: str, count: int) -> str:
    message = json.dumps({"format": FORMAT, "first_seq": first_seq, "last_seq": last_seq, "last_hash": last_hash,
                          "count": count}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _crypto().archive_mac(_key(), message).hex()


def _line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def write_archive(path: str, rows: Iterable[dict], *, first_seq: int, start_hash: str, created_at: str) -> dict:
    """Write ``rows`` ({"seq", "prev_hash", "hash", "sealed_at", "entry"}) and the signed checkpoint to ``path``
    (through a temporary file renamed into place, so a crash never leaves a half archive under the final name)."""
    tmp = f"{path}.part"
    count, last_seq, last_hash = 0, first_seq - 1, start_hash
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        out.write(_line({"kind": "header", "format": FORMAT, "first_seq": first_seq, "start_hash": start_hash,
                         "created_at": created_at}))
        for row in rows:
            out.write(_line({"kind": "row", **row}))
            count, last_seq, last_hash = count + 1, row["seq"], row["hash"]
        checkpoint = {"kind": "checkpoint", "first_seq": first_seq, "last_seq": last_seq, "last_hash": last_hash,
                      "count": count, "signature": checkpoint_signature(first_seq, last_seq, last_hash, count)}
        out.write(_line(checkpoint))
        out.flush()
    with open(tmp, "rb") as done:
        os.fsync(done.fileno())
    os.replace(tmp, path)
    return checkpoint


def _records(path: str):
    try:
        with gzip.open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, json.loads(raw)
                except ValueError as exc:
                    raise ArchiveError(f"第 {number} 行不是有效的记录") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"归档文件已损坏或被截断（{type(exc).__name__}）") from exc


def verify_archive(path: str) -> dict:
    """Re-read the archive and check every link and the signature; the checkpoint, or ArchiveError."""
    crypto = _crypto()
    header = checkpoint = None
    count = 0
    prev = expected = None
    for number, record in _records(path):
        kind = record.get("kind") if isinstance(record, dict) else None
        if checkpoint is not None:
            raise ArchiveError(f"第 {number} 行：检查点之后还有内容")
        if header is None:
            if kind != "header" or record.get("format") != FORMAT:
                raise ArchiveError("第 1 行不是审计归档的文件头")
            header, prev, expected = record, record["start_hash"], record["first_seq"]
        elif kind == "row":
            seq = record.get("seq")
            entry = record.get("entry") or {}
            where = f"第 {number} 行（第 {seq} 号封存，审计记录 #{entry.get('id')}）"
            if seq != expected:
                raise ArchiveError(f"{where}：序号不连续，应为第 {expected} 号")
            if record.get("prev_hash") != prev or set(entry) != set(FIELDS):
                raise ArchiveError(f"{where}：前一哈希或字段与链不符")
            if not hmac.compare_digest(link(crypto, prev, seq, entry), str(record.get("hash"))):
                raise ArchiveError(f"{where}：内容与封存哈希不符（已被改动）")
            prev, expected, count = record["hash"], seq + 1, count + 1
        elif kind == "checkpoint":
            checkpoint = record
        else:
            raise ArchiveError(f"第 {number} 行：未知的记录类型")
    if header is None or checkpoint is None:
        raise ArchiveError("归档缺少文件头或结尾的检查点（文件不完整）")
    claimed = (checkpoint.get("first_seq"), checkpoint.get("last_seq"), checkpoint.get("last_hash"),
               checkpoint.get("count"))
    if claimed != (header["first_seq"], expected - 1, prev, count):
        raise ArchiveError("检查点与归档内容不符（序号、链尾哈希或条数）")
    if not hmac.compare_digest(checkpoint_signature(*claimed), str(checkpoint.get("signature"))):
        raise ArchiveError("检查点签名不符（归档被改动，或签名密钥不同）")
    return {**checkpoint, "start_hash": header["start_hash"]}
