"""Identity documents and phones: check characters computed here by the standards' own recursive
definitions (not by the functions under test), published examples, and what must be refused."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from center.cases.intake import identity
from center.cases.intake.identity import IdType

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def iso7064_mod11_2(digits: str) -> str:
    """ISO 7064 pure system MOD 11-2, recursive form: p ← 2·(p + d) mod 11; check = (12 − p) mod 11."""
    p = 0
    for d in digits:
        p = (p + int(d)) * 2 % 11
    c = (12 - p) % 11
    return "X" if c == 10 else str(c)


def gb32100_check(body: str) -> str:
    """GB 32100: weights are 3^i mod 31; check = 31 − (Σ mod 31), 31 written as 0."""
    total = sum(USCC_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return USCC_CHARS[(31 - total % 31) % 31]


def make_resident_id(area: str, born: str, seq: str) -> str:
    body = area + born + seq
    return body + iso7064_mod11_2(body)


def wrong_check(number: str, alphabet: str) -> str:
    return number[:-1] + next(c for c in alphabet if c != number[-1])


RNG = random.Random(20261123)
GENERATED_IDS = [make_resident_id(RNG.choice(["110101", "440305", "500112", "632123", "120225"]),
                                  f"{RNG.randint(1930, 2010)}{RNG.randint(1, 12):02d}{RNG.randint(1, 28):02d}",
                                  f"{RNG.randint(0, 999):03d}") for _ in range(40)]


# --- 居民身份证 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])  # GB 11643-1999 examples
def test_published_resident_id_examples_are_valid(number):
    assert identity.normalize_resident_id(number) == number
    assert identity.is_valid_resident_id(number.lower())


@pytest.mark.parametrize("number", GENERATED_IDS)
def test_generated_resident_ids_are_valid_and_a_wrong_check_digit_is_refused(number):
    assert identity.resident_id_check_char(number[:17]) == number[17]
    assert identity.normalize_resident_id(f" {number[:6]} {number[6:].lower()} ") == number
    with pytest.raises(ValueError, match="校验位"):
        identity.normalize_resident_id(wrong_check(number, "0123456789X"))


@pytest.mark.parametrize(("number", "message"), [
    ("", "18 位"),
    ("11010519491231002", "18 位"),
    ("11010519491231002XX", "18 位"),
    ("01010519491231002X", "18 位"),  # area codes never start with 0
    ("1101051949123100AX", "18 位"),
    (make_resident_id("110101", "20230230", "001"), "出生日期"),
    (make_resident_id("110101", "17991231", "001"), "出生日期"),
    (make_resident_id("110101", (date.today() + timedelta(days=400)).strftime("%Y%m%d"), "001"), "出生日期"),
])
def test_malformed_resident_ids_are_refused_in_chinese(number, message):
    with pytest.raises(ValueError, match=message):
        identity.normalize_resident_id(number)


def test_other_person_documents():
    hk = make_resident_id("810000", "19900101", "123")
    assert identity.normalize_document(IdType.residence_permit, hk) == hk
    with pytest.raises(ValueError, match="810000"):
        identity.normalize_document(IdType.residence_permit, make_resident_id("110101", "19900101", "123"))
    foreign = make_resident_id("936156", "19850615", "021")
    assert identity.normalize_document(IdType.foreign_permanent, foreign) == foreign
    assert identity.normalize_document(IdType.foreign_permanent, "usa110085061502") == "USA110085061502"
    with pytest.raises(ValueError, match="校验位"):
        identity.normalize_document(IdType.foreign_permanent, wrong_check(foreign, "0123456789X"))
    assert identity.normalize_document(IdType.hk_macao_permit, "h12345678") == "H12345678"
    with pytest.raises(ValueError, match="港澳"):
        identity.normalize_document(IdType.hk_macao_permit, "K12345678")
    assert identity.normalize_document(IdType.taiwan_permit, "12345678") == "12345678"
    assert identity.normalize_document(IdType.passport, "E12345678") == "E12345678"
    with pytest.raises(ValueError, match="护照"):
        identity.normalize_document(IdType.passport, "E1-23")
    with pytest.raises(ValueError, match="请填写"):
        identity.normalize_document(IdType.resident_id, "  ")
    with pytest.raises(ValueError, match="证件类型"):
        identity.normalize_document("drivers_licence", "123")


# --- 统一社会信用代码 --------------------------------------------------------------------------------------

def make_uscc(rng: random.Random) -> str:
    body = (rng.choice("159Y") + rng.choice("123") + rng.choice(["110105", "440300", "500112"])
            + "".join(rng.choice(USCC_CHARS) for _ in range(9)))
    return body + gb32100_check(body)


GENERATED_USCC = [make_uscc(RNG) for _ in range(30)]


@pytest.mark.parametrize("code", ["91350100M000100Y43"])  # the example printed in GB 32100-2015
def test_published_uscc_example_is_valid(code):
    assert identity.normalize_uscc(code) == code


@pytest.mark.parametrize("code", GENERATED_USCC)
def test_generated_uscc_are_valid_and_a_wrong_check_character_is_refused(code):
    assert identity.is_valid_uscc(code.lower())
    assert identity.uscc_check_char(code[:17]) == code[17]
    with pytest.raises(ValueError, match="校验位"):
        identity.normalize_uscc(wrong_check(code, USCC_CHARS))


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100Y43X", "91350100M0001OOY43",
                                  "9135A100M000100Y43", "91350100M000100S43"])
def test_malformed_uscc_are_refused(code):
    assert not identity.is_valid_uscc(code)


# --- phones ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "normal"), [
    ("13812345678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("19912345678", "19912345678"),
    ("0571-87654321", "057187654321"),
    ("(0571) 8765 4321", "057187654321"),
    ("（0571）87654321", "057187654321"),
    ("057187654321", "057187654321"),
    ("010-62345678", "01062345678"),
    ("0971-6123456", "09716123456"),
    ("0571-87654321-123", "057187654321-123"),
    ("0571-87654321转123", "057187654321-123"),
])
def test_phones_normalise_to_one_form(raw, normal):
    assert identity.normalize_phone(raw) == normal


@pytest.mark.parametrize("raw", ["", "12345678901", "1381234567", "138123456789", "110", "0571-0654321",
                                 "571-87654321", "电话13812345678", "0571-87654321-1234567"])
def test_bad_phones_are_refused_in_chinese(raw):
    with pytest.raises(ValueError, match="电话号码格式不正确"):
        identity.normalize_phone(raw)
    assert not identity.is_valid_phone(raw)
