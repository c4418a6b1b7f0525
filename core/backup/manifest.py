"""The manifest: every table's row count and checksum, and how two manifests differ.

The checksum of a table is the sum, modulo 2**256, of the SHA-256 of each row's canonical text. A sum does not
depend on the order rows come back in (a restored table's physical order differs from the live one's, and no
ORDER BY over millions of rows is needed), yet a dropped, added or changed row changes it. Each engine renders
its rows itself (``sqlite_row_text``; PostgreSQL's own record text), so manifests compare within one engine,
which is all a restore needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

METHOD = "sha256-sum-v1"
_MOD = 1 << 256


def table_entry(rows: Iterable[bytes]) -> dict:
    count, total = 0, 0
    for text in rows:
        count += 1
        total += int.from_bytes(hashlib.sha256(text).digest(), "big")
    return {"rows": count, "checksum": f"{total % _MOD:064x}"}


def sqlite_row_text(row: tuple) -> bytes:
    """An unambiguous rendering of one SQLite row: each value tagged by its storage class, text and blobs with
    their length, so ('a,b',) and ('a', 'b') or 1 and '1' never render alike."""
    parts = []
    for value in row:
        if value is None:
            parts.append("n")
        elif isinstance(value, int):
            parts.append(f"i{value}")
        elif isinstance(value, float):
            parts.append(f"r{value!r}")
        elif isinstance(value, bytes):
            parts.append(f"b{len(value)}:{value.hex()}")
        else:
            parts.append(f"t{len(value)}:{value}")
    return "\x1f".join(parts).encode("utf-8", "surrogateescape")


def build(tables: dict[str, dict]) -> dict:
    return {"method": METHOD, "tables": dict(sorted(tables.items()))}


def totals(manifest: dict) -> tuple[int, int]:
    tables = manifest["tables"]
    return len(tables), sum(entry["rows"] for entry in tables.values())


def differences(expected: dict, actual: dict) -> list[str]:
    """What differs, table by table in name order, in Chinese (empty when the two agree)."""
    if expected.get("method") != actual.get("method"):
        return [f"清单算法不同（{expected.get('method')} / {actual.get('method')}）"]
    want, got = expected["tables"], actual["tables"]
    found = []
    for name in sorted(set(want) | set(got)):
        if name not in got:
            found.append(f"表 {name} 在恢复出的数据库中缺失")
        elif name not in want:
            found.append(f"表 {name} 不在清单中（恢复出的数据库多出此表）")
        elif want[name]["rows"] != got[name]["rows"]:
            found.append(f"表 {name} 行数不符：清单 {want[name]['rows']} 行，恢复后 {got[name]['rows']} 行")
        elif want[name]["checksum"] != got[name]["checksum"]:
            found.append(f"表 {name} 校验和不符（行数同为 {want[name]['rows']}，内容不同）")
    return found
