"""等保三级 keys: production refuses to start with the development keys, a short SECRET_KEY, SM4 or blind-index
keys of the wrong length or without a generated key's randomness; and start-up checks SM4 and SM3 against the
known answers of GB/T 32907-2016 and GB/T 32905-2016, so a broken primitive stops the process."""

from __future__ import annotations

import os

import pytest

from core import crypto
from core.config import ConfigError, DevelopmentConfig, load_config
from tests.conftest import make_app
from tests.core.test_demo_and_config import PRODUCTION_KEYS, clean_env  # noqa: F401 -- fixture

DEV_SM4 = DevelopmentConfig.CRYPTO_KEYS.partition(":")[2]


def _refused(overrides: dict, match: str) -> None:
    config = {"MEDIATION_ENV": "production", **PRODUCTION_KEYS, **overrides}
    with pytest.raises(ConfigError, match=match):
        load_config(config)
    with pytest.raises(ConfigError, match=match):
        make_app("sqlite://", **config)


def test_good_production_keys_start(clean_env):  # noqa: F811
    cfg = load_config({"MEDIATION_ENV": "production", **PRODUCTION_KEYS})
    assert cfg["CRYPTO_KEYS"] == PRODUCTION_KEYS["CRYPTO_KEYS"]
    random_keys = {"SECRET_KEY": os.urandom(32).hex(), "CRYPTO_KEYS": f"v1:{os.urandom(16).hex()},v2:{os.urandom(16).hex()}",
                   "BLIND_INDEX_KEY": os.urandom(32).hex(), "BACKUP_KEY": os.urandom(16).hex(),
                   "AUDIT_ARCHIVE_KEY": os.urandom(16).hex()}
    load_config({"MEDIATION_ENV": "production", **random_keys})


@pytest.mark.parametrize("key", ["SECRET_KEY", "CRYPTO_KEYS", "BLIND_INDEX_KEY", "AUDIT_ARCHIVE_KEY", "WECOM_SECRET", "WECOM_AES_KEY",
                                 "MP_SECRET", "MP_TOKEN"])
def test_development_values_are_refused(key, clean_env):  # noqa: F811
    _refused({key: getattr(DevelopmentConfig, key)}, f"MEDIATION_{key} is the development value")


def test_the_development_sm4_key_is_refused_as_any_version(clean_env):  # noqa: F811
    _refused({"CRYPTO_KEYS": f"{PRODUCTION_KEYS['CRYPTO_KEYS']},v2:{DEV_SM4.upper()}"}, "development value")


def test_a_short_secret_key_is_refused(clean_env):  # noqa: F811
    _refused({"SECRET_KEY": os.urandom(15).hex() + "x"}, "at least 32 bytes")


@pytest.mark.parametrize(("secret", "why"), [("a" * 40, "too few distinct bytes"),
                                             ("abc123" * 7, "too few distinct bytes|a repeated pattern")])
def test_a_secret_key_without_randomness_is_refused(secret, why, clean_env):  # noqa: F811
    _refused({"SECRET_KEY": secret}, f"MEDIATION_SECRET_KEY is not random \\(({why})\\)")


@pytest.mark.parametrize(("keys", "match"), [
    ("v1:" + os.urandom(15).hex(), "key v1 must be 16 bytes"),
    ("v1:" + os.urandom(24).hex(), "key v1 must be 16 bytes"),
    ("v1:not-hex-at-all", "must be hexadecimal"),
    ("v1:" + "11" * 16, "not random \\(too few distinct bytes\\)"),
    ("v1:" + "0123456789abcdef" * 2, "not random \\(a repeated pattern\\)"),
    ("v1:000102030405060708090a0b0c0d0e0f", "not random \\(sequential bytes\\)"),
    (f"v1:{os.urandom(16).hex()},v2:" + "00112233445566778899aabbccddeeff"[::-1], "key v2 is not random"),
])
def test_sm4_keys_of_the_wrong_length_or_low_entropy_are_refused(keys, match, clean_env):  # noqa: F811
    _refused({"CRYPTO_KEYS": keys}, f"MEDIATION_CRYPTO_KEYS {match}" if match.startswith("key") else match)


@pytest.mark.parametrize(("key", "match"), [
    (os.urandom(8).hex(), "must be 16–64 bytes"),
    (os.urandom(65).hex(), "must be 16–64 bytes"),
    ("ab" * 32, "is not random \\(too few distinct bytes\\)"),
    ("f0e1d2c3b4a5968778695a4b3c2d1e0f", "is not random \\(sequential bytes\\)"),
])
def test_blind_index_keys_of_the_wrong_length_or_low_entropy_are_refused(key, match, clean_env):  # noqa: F811
    _refused({"BLIND_INDEX_KEY": key}, f"MEDIATION_BLIND_INDEX_KEY {match}")


def test_development_and_test_keep_their_keys(clean_env):  # noqa: F811
    assert load_config({"MEDIATION_ENV": "development"})["CRYPTO_KEYS"] == DevelopmentConfig.CRYPTO_KEYS
    assert load_config({"MEDIATION_ENV": "test"})["SECRET_KEY"] == DevelopmentConfig.SECRET_KEY


# --- known-answer tests ----------------------------------------------------------------------------------------


def test_sm4_and_sm3_give_the_standards_answers():
    crypto.known_answer_tests()
    names = [name for name, _compute, _expected in crypto.KNOWN_ANSWERS]
    assert names == ["SM4 GB/T 32907-2016 A.1", "SM3 GB/T 32905-2016 A.1", "SM3 GB/T 32905-2016 A.2"]
    assert [expected for _n, _c, expected in crypto.KNOWN_ANSWERS] == [
        "681edf34d206965e86b3e94f536e4246",
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_wrong_answer_fails_the_self_test(index):
    name, compute, expected = crypto.KNOWN_ANSWERS[index]
    wrong = ("0" if expected[0] != "0" else "1") + expected[1:]
    with pytest.raises(ConfigError, match=f"crypto self-test failed: {name} gave {expected}"):
        crypto.known_answer_tests([(name, compute, wrong)])


def test_a_primitive_that_cannot_run_fails_the_self_test():
    def unavailable():
        raise ValueError("SM4 not supported by this OpenSSL")

    with pytest.raises(ConfigError, match="could not be computed"):
        crypto.known_answer_tests([("SM4 GB/T 32907-2016 A.1", unavailable, "681edf34d206965e86b3e94f536e4246")])


def test_a_broken_primitive_stops_start_up(monkeypatch, tmp_path):
    """The vectors start-up checks are the module's table: one wrong answer in it and create_app refuses."""
    name, compute, expected = crypto.KNOWN_ANSWERS[0]
    monkeypatch.setattr(crypto, "KNOWN_ANSWERS", ((name, compute, "00" * 16), *crypto.KNOWN_ANSWERS[1:]))
    crypto._provider.cache_clear()
    try:
        with pytest.raises(ConfigError, match="crypto self-test failed: SM4"):
            make_app(f"sqlite:///{tmp_path}/kat.db")
    finally:
        crypto._provider.cache_clear()
