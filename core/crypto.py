"""Crypto provider for personal data at rest: SM4-GCM with versioned keys, HMAC-SM3 blind index.

Ciphertext format: "<key version>:<base64(nonce | ciphertext | tag)>". The last configured key encrypts; all
configured keys decrypt, so keys rotate without a flag day. A certified cipher service can replace this
class behind the same three methods. ``self_test`` runs at start-up so a bad key fails fast, and first checks
SM4 and SM3 against the known answers published in their standards, so a broken or substituted primitive (an
OpenSSL build without them, a patched library) stops the process before it encrypts anything.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.config import ConfigError

_NONCE = 12
_TAG = 16


def _sm4_ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - one block, the standard's example
    return enc.update(block) + enc.finalize()


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


_SM4_EXAMPLE = bytes.fromhex("0123456789abcdeffedcba9876543210")
#: (name, computation, expected hex): the examples of GB/T 32907-2016 (SM4, appendix A.1: the key encrypting
#: itself) and GB/T 32905-2016 (SM3, appendix A.1 "abc" and A.2 "abcd" × 16, 512 bits).
KNOWN_ANSWERS = (
    ("SM4 GB/T 32907-2016 A.1", lambda: _sm4_ecb(_SM4_EXAMPLE, _SM4_EXAMPLE), "681edf34d206965e86b3e94f536e4246"),
    ("SM3 GB/T 32905-2016 A.1", lambda: _sm3(b"abc"),
     "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    ("SM3 GB/T 32905-2016 A.2", lambda: _sm3(b"abcd" * 16),
     "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
)


def known_answer_tests(vectors=None) -> None:
    """Compute each vector and compare with its published answer; ConfigError names the first that differs."""
    for name, compute, expected in KNOWN_ANSWERS if vectors is None else vectors:
        try:
            got = compute().hex()
        except Exception as exc:  # an unsupported algorithm is as fatal as a wrong answer
            raise ConfigError(f"crypto self-test failed: {name} could not be computed ({exc})") from exc
        if not std_hmac.compare_digest(got, expected.lower()):
            raise ConfigError(f"crypto self-test failed: {name} gave {got}, the standard says {expected}")


class CryptoProvider:
    def __init__(self, keys: str, blind_key: str):
        try:
            parsed = [item.split(":", 1) for item in keys.split(",") if item.strip()]
            self.keys = {version.strip(): bytes.fromhex(key.strip()) for version, key in parsed}
            self.blind_key = bytes.fromhex(blind_key)
        except ValueError as exc:
            raise ConfigError("CRYPTO_KEYS must read 'v1:<32 hex>,...' and BLIND_INDEX_KEY must be hex") from exc
        if not self.keys or any(len(k) != 16 for k in self.keys.values()):
            raise ConfigError("every SM4 key must be 16 bytes (32 hex characters)")
        self.current = list(self.keys)[-1]

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE)
        enc = Cipher(algorithms.SM4(self.keys[self.current]), modes.GCM(nonce)).encryptor()
        body = enc.update(plaintext.encode("utf-8")) + enc.finalize()
        return f"{self.current}:" + base64.b64encode(nonce + body + enc.tag).decode("ascii")

    def decrypt(self, token: str) -> str:
        version, _, data = token.partition(":")
        raw = base64.b64decode(data)
        nonce, body, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        dec = Cipher(algorithms.SM4(self.keys[version]), modes.GCM(nonce, tag)).decryptor()
        return (dec.update(body) + dec.finalize()).decode("utf-8")

    def blind_index(self, value: str) -> str:
        """Keyed exact-match index (normalised value): equal inputs, equal index; reveals nothing else."""
        mac = crypto_hmac.HMAC(self.blind_key, hashes.SM3())
        mac.update(value.strip().upper().encode("utf-8"))
        return mac.finalize().hex()

    #: Length of ``chain_hash``'s output, and the audit chain's genesis (all zeros) before its first row.
    chain_hash_bytes = 32

    def chain_hash(self, prev: bytes, data: bytes) -> bytes:
        """One link of the audit hash chain (core.audit.chain): SM3(prev ‖ data). Unkeyed on purpose: anyone holding
        the rows can re-check the chain, and the signed archive checkpoints (``archive_mac``) anchor it."""
        return _sm3(prev + data)

    def archive_mac(self, key: bytes, message: bytes) -> bytes:
        """HMAC-SM3 signing an audit archive's checkpoint (core.audit.retention)."""
        mac = crypto_hmac.HMAC(key, hashes.SM3())
        mac.update(message)
        return mac.finalize()

    #: HMAC of the second factor's one-time codes (core.accounts.factors): SHA1 is what every authenticator
    #: app computes (RFC 6238's default); a 密评 deployment with SM3 tokens replaces this provider.
    otp_algorithm = "SHA1"

    def otp_mac(self, key: bytes, message: bytes) -> bytes:
        mac = crypto_hmac.HMAC(key, hashes.SHA1())  # noqa: S303 - RFC 4226/6238 HOTP, not a signature
        mac.update(message)
        return mac.finalize()

    def self_test(self) -> None:
        known_answer_tests()
        sample = "自检 110101199003074578"
        if self.decrypt(self.encrypt(sample)) != sample:
            raise ConfigError("crypto self-test failed")
        if not std_hmac.compare_digest(self.blind_index(sample), self.blind_index(sample.lower())):
            raise ConfigError("blind index self-test failed")


@lru_cache(maxsize=4)
def _provider(keys: str, blind: str) -> CryptoProvider:
    provider = CryptoProvider(keys, blind)
    provider.self_test()
    return provider


def provider() -> CryptoProvider:
    from flask import current_app

    return _provider(current_app.config["CRYPTO_KEYS"], current_app.config["BLIND_INDEX_KEY"])


def mask(value: str, keep_start: int = 3, keep_end: int = 4) -> str:
    """For lists: 1101**********1234, 138****5678."""
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]
