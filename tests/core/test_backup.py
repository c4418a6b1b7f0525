"""`flask backup create | verify | restore` on the engine under test: real database files, real pg_dump and
pg_restore, real SM4-GCM. A restore drill runs while writers commit rows; a flipped byte, a dropped or changed
row, a cut-off file and a wrong key each make verify fail; a non-empty target needs --yes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from core.backup import archive, service
from core.backup import postgres as pg_backup
from core.backup import sqlite as sqlite_backup
from core.config import ConfigError, load_config
from tests import dbutil
from tests.conftest import make_app

ENGINE = dbutil.ENGINE
MODULE = {"sqlite": sqlite_backup, "postgresql": pg_backup}[ENGINE]


def _raw(url: str):
    """A plain DB-API connection in autocommit: the writers and tamperers are not the application."""
    if ENGINE == "sqlite":
        return sqlite3.connect(sqlite_backup.database_path(url), timeout=30, isolation_level=None)
    return psycopg.connect(url.replace("+psycopg", ""), autocommit=True)


def _execute(url: str, statement: str) -> list:
    conn = _raw(url)
    try:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def _cli(url: str, *args: str, **config):
    from core.db import db

    app = make_app(url, **config)
    try:
        return app.test_cli_runner().invoke(args=["backup", *args])
    finally:
        with app.app_context():
            db.engine.dispose()  # the audit rows' connections, before the database is dropped


def _audited(url: str, action: str) -> list:
    return _execute(url, f"SELECT result, object_id FROM audit_entries WHERE action = '{action}' ORDER BY id")


@pytest.fixture(scope="module")
def live_url(tmp_path_factory, migrated_template):
    """A committed database holding the demo district (a copy of the session's template) for the module."""
    url = dbutil.copy_database(migrated_template, tmp_path_factory.mktemp("backup-live"))
    yield url
    dbutil.drop_database(url)


@pytest.fixture(scope="module")
def backup_file(live_url, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("backup-file") / "demo.mdtbak")
    result = _cli(live_url, "create", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"已创建备份 {out}" in result.output
    return out


@pytest.fixture()
def empty_url(tmp_path):
    url = dbutil.fresh_database_url(tmp_path)
    yield url
    dbutil.drop_database(url)


def _key() -> bytes:
    return archive.parse_key(load_config({"MEDIATION_ENV": "test"})["BACKUP_KEY"])


def _header(path: str) -> dict:
    with open(path, "rb") as handle:
        return archive.read_header(handle, _key())[0]


def _verify(url: str, path: str):
    return _cli(url, "verify", path)


# --- create and verify ------------------------------------------------------------------------------------

def test_create_then_verify_passes(live_url, backup_file):
    header = _header(backup_file)
    assert header["engine"] == ENGINE and header["format"] == archive.FORMAT_VERSION
    tables = header["manifest"]["tables"]
    assert tables["alembic_version"]["rows"] == 1
    assert tables["users"]["rows"] > 50 and tables["org_units"]["rows"] > 200
    live = MODULE.manifest_of(live_url)
    assert set(tables) == set(live["tables"])  # every table of the database, nothing left out
    with open(backup_file, "rb") as handle:
        raw = handle.read()
    assert b"leader.wang" not in raw and "示范区".encode() not in raw  # the payload is encrypted
    assert b"calendar_days" not in raw  # and so is the manifest
    result = _verify(live_url, backup_file)
    assert result.exit_code == 0, result.output
    assert "校验通过" in result.output and "行数与校验和均与清单一致" in result.output
    assert _audited(live_url, "backup.created") == [("ok", "demo.mdtbak")]
    assert ("ok", "demo.mdtbak") in _audited(live_url, "backup.verified")


def test_backup_key_is_validated_and_required_in_production():
    with pytest.raises(ConfigError, match="MEDIATION_BACKUP_KEY must be 32 hex"):
        load_config({"MEDIATION_ENV": "test", "BACKUP_KEY": "abc"})
    with pytest.raises(archive.BackupError, match="未配置备份密钥"):
        archive.parse_key(None)


# --- the restore drill: backups taken while the application writes ---------------------------------------

class Writers:
    """Threads committing rows into a drill table as fast as they can (and rewriting its first row), each
    commit timed."""

    def __init__(self, url: str, threads: int = 2):
        self.url, self.stop, self.commits, self.errors = url, threading.Event(), [], []
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if ENGINE == "sqlite" else "BIGSERIAL PRIMARY KEY"
        _execute(url, f"CREATE TABLE IF NOT EXISTS backup_drill (id {serial}, writer INTEGER, note TEXT)")
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def _run(self, n: int) -> None:
        conn = _raw(self.url)
        mark = "?" if ENGINE == "sqlite" else "%s"
        try:
            while not self.stop.is_set():
                conn.execute(f"INSERT INTO backup_drill (writer, note) VALUES ({mark}, {mark})",
                             (n, f"演练 {time.monotonic()}"))
                # Rows change as well as arrive: a manifest and a copy from two moments would differ in checksum
                # even where their counts agreed.
                conn.execute(f"UPDATE backup_drill SET note = {mark} WHERE id = (SELECT min(id) FROM backup_drill)",
                             (f"改 {n} {time.monotonic()}",))
                self.commits.append(time.monotonic())
                time.sleep(0.002)
        except Exception as exc:  # a failing writer fails the drill
            self.errors.append(exc)
        finally:
            conn.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        while len(self.commits) < 20:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def count(self) -> int:
        return _execute(self.url, "SELECT count(*) FROM backup_drill")[0][0]


def test_restore_drill_while_writers_insert(tmp_path, migrated_template, empty_url):
    url = dbutil.copy_database(migrated_template, tmp_path)
    try:
        out = str(tmp_path / "drill.mdtbak")
        with Writers(url) as writers:
            started = time.monotonic()
            result = _cli(url, "create", "--out", out)
            finished = time.monotonic()
            assert result.exit_code == 0, result.output
            manifest = _header(out)["manifest"]
            # Restored into an empty database while the writers keep writing to the live one.
            result = _cli(url, "restore", out, "--into", empty_url)
            assert result.exit_code == 0, result.output
            assert "已恢复" in result.output
            seen = len(writers.commits)
            while len(writers.commits) < seen + 20:
                time.sleep(0.01)
        assert not writers.errors, writers.errors
        assert any(started < t < finished for t in writers.commits), "no writer committed during the backup"
        drilled = manifest["tables"]["backup_drill"]["rows"]
        assert 20 <= drilled < writers.count()  # a snapshot of a moving table, not its end state
        restored = MODULE.manifest_of(empty_url)
        assert restored == manifest  # every table: the same counts and checksums as the manifest
        assert MODULE.manifest_of(url)["tables"]["backup_drill"] != manifest["tables"]["backup_drill"]
        result = _verify(url, out)
        assert result.exit_code == 0, result.output
    finally:
        dbutil.drop_database(url)


# --- a damaged or tampered file fails verify --------------------------------------------------------------

def _manifest_start(raw: bytes) -> int:
    size = int.from_bytes(raw[len(archive.MAGIC):len(archive.MAGIC) + 4], "big")
    return len(archive.MAGIC) + 4 + size + 12 + 4


def _payload_start(raw: bytes) -> int:
    at = _manifest_start(raw)
    return at + int.from_bytes(raw[at - 4:at], "big") + 16


def _chunk_offsets(raw: bytes, at: int) -> list[int]:
    offsets = []
    while at < len(raw):
        offsets.append(at)
        at += 4 + 12 + int.from_bytes(raw[at:at + 4], "big") + 16
    return offsets


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


def _damaged(raw: bytes, how: str) -> bytes:
    start = _payload_start(raw)
    if how == "manifest":  # inside the encrypted manifest
        return _flip(raw, _manifest_start(raw) + 10)
    if how == "engine":  # the readable part of the header
        return raw.replace(f'"engine": "{ENGINE}"'.encode(), f'"engine": "{ENGINE[:-1]}x"'.encode())
    if how == "payload":
        return _flip(raw, start + 4 + 12 + 100)
    if how == "tag":
        return _flip(raw, len(raw) - 1)
    if how == "truncated":  # the file cut off where its last chunk begins: every chunk left is intact
        return raw[:_chunk_offsets(raw, start)[-1]]
    if how == "appended":
        return raw + b"\x00"
    raise AssertionError(how)


@pytest.mark.parametrize(("how", "message"), [
    ("manifest", "备份文件头校验失败"),
    ("engine", "备份文件头校验失败"),
    ("payload", "第 1 个数据块校验失败"),
    ("tag", "数据块校验失败"),
    ("truncated", "备份文件被截断"),
    ("appended", "末块之后还有多余数据"),
])
def test_damaged_file_fails_verify(live_url, backup_file, tmp_path, how, message):
    with open(backup_file, "rb") as handle:
        raw = handle.read()
    damaged = tmp_path / "damaged.mdtbak"
    damaged.write_bytes(_damaged(raw, how))
    result = _verify(live_url, str(damaged))
    assert result.exit_code != 0
    assert message in result.output, result.output


def _small_archive(monkeypatch, tmp_path, pieces: int = 3) -> tuple[bytes, bytes]:
    monkeypatch.setattr(archive, "CHUNK_SIZE", 64)
    payload = os.urandom(64 * pieces - 10)
    path = tmp_path / "small.mdtbak"
    with open(path, "wb") as handle:
        archive.write(handle, _key(), {"engine": ENGINE, "manifest": {}}, [payload[:50], payload[50:]])
    return path.read_bytes(), payload


def _read_all(raw: bytes, tmp_path) -> bytes:
    path = tmp_path / "read.mdtbak"
    path.write_bytes(raw)
    return b"".join(archive.open_archive(str(path), _key())[1])


def test_chunks_cannot_be_reordered_dropped_or_cut(monkeypatch, tmp_path):
    raw, payload = _small_archive(monkeypatch, tmp_path)
    assert _read_all(raw, tmp_path) == payload
    offsets = _chunk_offsets(raw, _payload_start(raw))
    assert len(offsets) == 3
    first, second, third = (raw[a:b] for a, b in zip(offsets, [*offsets[1:], len(raw)], strict=True))
    head = raw[:offsets[0]]
    for damaged, message in ((head + second + first + third, "第 1 个数据块校验失败"),  # swapped
                             (head + first + third, "第 2 个数据块校验失败"),  # the middle one dropped
                             (head + first + second, "备份文件被截断：第 3 个数据块缺失"),  # cut at a boundary
                             (head + first + second + third[:-5], "备份文件被截断：第 3 个数据块不完整")):
        with pytest.raises(archive.BackupError, match=message):
            _read_all(damaged, tmp_path)
    other, _ = _small_archive(monkeypatch, tmp_path)  # the same chunk from another backup
    with pytest.raises(archive.BackupError, match="第 2 个数据块校验失败"):
        _read_all(head + first + other[_chunk_offsets(other, _payload_start(other))[1]:], tmp_path)


def test_wrong_key_fails(live_url, backup_file):
    result = _cli(live_url, "verify", backup_file, BACKUP_KEY="ab" * 16)
    assert result.exit_code != 0
    assert "备份密钥不符" in result.output
    assert ("failed", "demo.mdtbak") in _audited(live_url, "backup.verified")


def _decrypted(path: str) -> tuple[dict, bytes]:
    header, chunks = archive.open_archive(path, _key())
    return header, b"".join(chunks)


def _reencrypt(header: dict, payload: bytes, out) -> None:
    """What an attacker holding the key, or a broken dump, would produce: the original header and manifest
    over a payload that no longer matches them (the archive itself is intact)."""
    kept = {k: v for k, v in header.items() if k not in ("format", "key", "id")}
    with open(out, "wb") as handle:
        archive.write(handle, _key(), kept, [payload])


def _tampered_payload(payload: bytes, statement: str, tmp_path) -> bytes:
    """Restore the payload, run ``statement`` on it, take it back as a payload of the same engine."""
    if ENGINE == "sqlite":
        path = tmp_path / "tampered.db"
        path.write_bytes(payload)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=DELETE")  # the change lands in the file itself, not a -wal beside it
        conn.execute(statement)
        conn.close()
        return path.read_bytes()
    url = dbutil.fresh_database_url(tmp_path)
    try:
        pg_backup.restore([payload], url, clean=False)
        _execute(url, statement)
        argv, env = pg_backup._tool("pg_dump", pg_backup._params(url))
        return subprocess.run([*argv, "--format=custom"], env=env, check=True, capture_output=True).stdout
    finally:
        dbutil.drop_database(url)


@pytest.mark.parametrize(("statement", "message"), [
    # calendar_days: a table nothing references, so one row goes without a cascade (audit_entries refuses it).
    ("DELETE FROM calendar_days WHERE day = (SELECT max(day) FROM calendar_days)", "表 calendar_days 行数不符"),
    ("UPDATE users SET display_name = display_name || '改' WHERE username = 'leader.wang'",
     "表 users 校验和不符"),
])
def test_dropped_or_changed_row_fails_verify(live_url, backup_file, tmp_path, statement, message):
    header, payload = _decrypted(backup_file)
    tampered = tmp_path / "tampered.mdtbak"
    _reencrypt(header, _tampered_payload(payload, statement, tmp_path), tampered)
    result = _verify(live_url, str(tampered))
    assert result.exit_code != 0
    assert "与备份清单不符" in result.output and message in result.output, result.output


# --- restore over a live database --------------------------------------------------------------------------

def test_restore_refuses_a_non_empty_target_without_yes(tmp_path, migrated_template):
    url = dbutil.copy_database(migrated_template, tmp_path)
    try:
        out = str(tmp_path / "before.mdtbak")
        assert _cli(url, "create", "--out", out).exit_code == 0
        manifest = _header(out)["manifest"]
        _execute(url, "DELETE FROM calendar_days")  # what the restore must bring back
        result = _cli(url, "restore", out)
        assert result.exit_code != 0
        assert "目标数据库不是空库" in result.output and "--yes" in result.output
        assert MODULE.manifest_of(url)["tables"]["calendar_days"]["rows"] == 0  # untouched

        damaged = tmp_path / "damaged.mdtbak"
        raw = Path(out).read_bytes()
        damaged.write_bytes(_damaged(raw, "payload"))
        result = _cli(url, "restore", str(damaged), "--yes")
        assert result.exit_code != 0 and "数据块校验失败" in result.output
        assert MODULE.manifest_of(url)["tables"]["calendar_days"]["rows"] == 0  # a refused file changes nothing

        result = _cli(url, "restore", out, "--yes")
        assert result.exit_code == 0, result.output
        restored = MODULE.manifest_of(url)["tables"]
        audit = restored.pop("audit_entries")
        assert audit["rows"] == manifest["tables"].pop("audit_entries")["rows"] + 1  # the restore's own row
        assert restored == manifest["tables"]
        assert _audited(url, "backup.restored") == [("ok", "before.mdtbak")]
    finally:
        dbutil.drop_database(url)


def test_restore_refuses_another_engine(backup_file, tmp_path):
    other = (f"sqlite:///{tmp_path}/x.db" if ENGINE == "postgresql"
             else "postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(archive.BackupError, match="不能恢复到"):
        service.restore_backup(backup_file, _key().hex(), into=other, confirmed=True)


def test_failed_create_leaves_no_file(tmp_path):
    out = tmp_path / "none.mdtbak"
    result = _cli(f"sqlite:///{tmp_path}/missing.db", "create", "--out", str(out))
    assert result.exit_code != 0 and "数据库文件不存在" in result.output
    assert not out.exists() and not os.path.exists(f"{out}.part")


@pytest.mark.skipif(ENGINE != "postgresql", reason="scratch databases are a PostgreSQL matter")
def test_verify_uses_the_configured_scratch_server(live_url, backup_file):
    from sqlalchemy.engine import make_url

    scratch = make_url(live_url).set(database="postgres").render_as_string(hide_password=False)
    before = _execute(scratch, "SELECT count(*) FROM pg_database WHERE datname LIKE 'mdt_verify_%'")
    result = _cli(live_url, "verify", backup_file, BACKUP_SCRATCH_URL=scratch)
    assert result.exit_code == 0, result.output
    # created through the configured server's connection and dropped again
    assert _execute(scratch, "SELECT count(*) FROM pg_database WHERE datname LIKE 'mdt_verify_%'") == before
    result = _cli(live_url, "verify", backup_file, BACKUP_SCRATCH_URL="sqlite:///x.db")
    assert result.exit_code != 0 and "须在 PostgreSQL 服务器上校验" in result.output
