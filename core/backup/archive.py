"""The backup file: a readable, authenticated header (manifest included) and an SM4-GCM encrypted payload in chunks.

Layout::

    MAGIC | u32 length | header JSON | nonce (12) | u32 length | encrypted manifest JSON | tag (16)
    then per chunk: u32 ciphertext length | nonce (12) | ciphertext | tag (16)

The header's JSON stays readable (format, engine, time, key fingerprint, file id) so a wrong key is named as such
before anything is decrypted; the manifest is encrypted with it as additional data, because its checksums would
let someone holding the file but not the key confirm guesses of a small table's rows. Each chunk's additional data binds it to this header (SHA-256 of the header bytes, which hold a random
file id), to its position and to a last-chunk flag, so a chunk that is changed, moved, taken from another backup
or cut off after is refused.
A chunk is released only after its tag checked: nothing unauthenticated reaches pg_restore or a database file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAGIC = b"MDTBACKUP\x00"
FORMAT_VERSION = 1
#: Plaintext bytes per chunk: large enough that the per-chunk overhead (32 bytes) is nothing, small enough that
#: a chunk is decrypted and checked in memory.
CHUNK_SIZE = 4 * 1024 * 1024
_NONCE, _TAG = 12, 16
_MAX_HEADER = 64 * 1024 * 1024


class BackupError(Exception):
    """A backup that cannot be made, read, verified or restored; the message is for the operator (Chinese)."""


def parse_key(hex_key: str | None) -> bytes:
    if not hex_key:
        raise BackupError("未配置备份密钥（MEDIATION_BACKUP_KEY，32 位十六进制）")
    try:
        key = bytes.fromhex(hex_key)
    except ValueError:
        key = b""
    if len(key) != 16:
        raise BackupError("备份密钥必须是 32 位十六进制字符（SM4，128 位）")
    return key


def key_fingerprint(key: bytes) -> str:
    """Names the key in the header, so a wrong key is told apart from a damaged file (reveals nothing of it)."""
    return hmac.new(key, b"mdt-backup-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes, bytes]:
    nonce = os.urandom(_NONCE)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    body = enc.update(plaintext) + enc.finalize()
    return nonce, body, enc.tag


def _decrypt(key: bytes, nonce: bytes, body: bytes, tag: bytes, aad: bytes) -> bytes:
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(body) + dec.finalize()


def _chunk_aad(header_digest: bytes, index: int, last: bool) -> bytes:
    return header_digest + struct.pack(">QB", index, 1 if last else 0)


def write(out: BinaryIO, key: bytes, header: dict, chunks: Iterable[bytes]) -> int:
    """Write header and payload (``chunks``: plaintext pieces of any size). Returns the plaintext size."""
    # A random id makes every header, and so every chunk's additional data, unique to this file: two backups of
    # the same data in the same second must not be able to swap chunks.
    public = {k: v for k, v in header.items() if k != "manifest"}
    public.update(format=FORMAT_VERSION, key=key_fingerprint(key), id=os.urandom(16).hex())
    raw = json.dumps(public, ensure_ascii=False, sort_keys=True).encode("utf-8")
    prefix = MAGIC + struct.pack(">I", len(raw)) + raw
    secret = json.dumps(header.get("manifest"), ensure_ascii=False, sort_keys=True).encode("utf-8")
    nonce, body, tag = _encrypt(key, secret, prefix)
    out.write(prefix + nonce + struct.pack(">I", len(body)) + body + tag)
    digest = hashlib.sha256(raw).digest()
    index, total, pending = 0, 0, bytearray()

    def emit(piece: bytes, last: bool) -> None:
        nonce, body, tag = _encrypt(key, piece, _chunk_aad(digest, index, last))
        out.write(struct.pack(">I", len(body)) + nonce + body + tag)

    for data in chunks:
        pending += data
        total += len(data)
        while len(pending) > CHUNK_SIZE:  # keep a full chunk back: only the true end carries the last flag
            emit(bytes(pending[:CHUNK_SIZE]), False)
            del pending[:CHUNK_SIZE]
            index += 1
    emit(bytes(pending), True)  # always one last chunk, even empty: its absence means the file was cut short
    return total


def _read_exact(src: BinaryIO, size: int) -> bytes:
    data = src.read(size)
    return data if data is not None else b""


def _read_sized(src: BinaryIO, what: str) -> tuple[bytes, bytes]:
    size_raw = _read_exact(src, 4)
    if len(size_raw) != 4:
        raise BackupError("备份文件头不完整（文件被截断）")
    (size,) = struct.unpack(">I", size_raw)
    if size > _MAX_HEADER:
        raise BackupError(f"备份文件头已损坏（{what}长度不合理）")
    data = _read_exact(src, size)
    if len(data) != size:
        raise BackupError("备份文件头不完整（文件被截断）")
    return size_raw, data


def read_header(src: BinaryIO, key: bytes) -> tuple[dict, bytes]:
    """The header, its manifest decrypted and checked, and the digest the chunks are bound to."""
    if _read_exact(src, len(MAGIC)) != MAGIC:
        raise BackupError("不是矛调通备份文件（文件开头的标识不符）")
    size_raw, raw = _read_sized(src, "文件头")
    try:
        header = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise BackupError("备份文件头已损坏（无法解析）") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        raise BackupError(f"不支持的备份格式版本：{header.get('format') if isinstance(header, dict) else '?'}")
    if not hmac.compare_digest(str(header.get("key", "")), key_fingerprint(key)):
        raise BackupError("备份密钥不符：此文件不是用当前配置的 MEDIATION_BACKUP_KEY 加密的")
    nonce = _read_exact(src, _NONCE)
    _, body = _read_sized(src, "清单")
    tag = _read_exact(src, _TAG)
    if len(tag) != _TAG:
        raise BackupError("备份文件头不完整（文件被截断）")
    try:
        secret = _decrypt(key, nonce, body, tag, MAGIC + size_raw + raw)
    except InvalidTag as exc:
        raise BackupError("备份文件头校验失败：文件头或其中的清单已损坏或被篡改") from exc
    header["manifest"] = json.loads(secret.decode("utf-8"))
    return header, hashlib.sha256(raw).digest()


def read_payload(src: BinaryIO, key: bytes, header_digest: bytes) -> Iterator[bytes]:
    """Authenticated plaintext chunks; raises BackupError naming the chunk that failed."""
    index = 0
    while True:
        size_raw = _read_exact(src, 4)
        if len(size_raw) != 4:
            raise BackupError(f"备份文件被截断：第 {index + 1} 个数据块缺失，未见末块标记")
        (size,) = struct.unpack(">I", size_raw)
        if size > CHUNK_SIZE:
            raise BackupError(f"第 {index + 1} 个数据块已损坏（长度不合理）")
        nonce, body, tag = _read_exact(src, _NONCE), _read_exact(src, size), _read_exact(src, _TAG)
        if len(tag) != _TAG or len(body) != size:
            raise BackupError(f"备份文件被截断：第 {index + 1} 个数据块不完整")
        for last in (False, True):
            try:
                plain = _decrypt(key, nonce, body, tag, _chunk_aad(header_digest, index, last))
                break
            except InvalidTag:
                continue
        else:
            raise BackupError(f"第 {index + 1} 个数据块校验失败：数据已损坏、被篡改或顺序被调换")
        yield plain
        if last:
            if src.read(1):
                raise BackupError("末块之后还有多余数据：文件被拼接或篡改")
            return
        index += 1


class Payload:
    """The authenticated plaintext of an open backup file; iterate once, or ``close()`` to give the file back
    (a generator never started would not run its ``finally``)."""

    def __init__(self, src: BinaryIO, key: bytes, header_digest: bytes):
        self._src, self._chunks = src, read_payload(src, key, header_digest)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def close(self) -> None:
        self._src.close()


def open_archive(path: str, key: bytes) -> tuple[dict, Payload]:
    """Header and payload of the file at ``path``."""
    try:
        src = open(path, "rb")  # noqa: SIM115 - Payload closes it
    except OSError as exc:
        raise BackupError(f"无法打开备份文件 {path}：{exc.strerror}") from exc
    try:
        header, digest = read_header(src, key)
    except BaseException:
        src.close()
        raise
    return header, Payload(src, key, digest)
