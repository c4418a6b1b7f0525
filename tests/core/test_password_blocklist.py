"""等保三级 passwords: the 10,000 most common passwords and the patterns people in China use (pinyin names,
birthdays, 表白 numbers, keyboard walks, the username and the unit's name), each refused with its own reason,
seen through case, leetspeak and trailing digits or symbols. Every password here passes the length and
character-class rules, so the refusal is the blocklist's."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.accounts import blocklist
from core.accounts.blocklist import has_date, has_keyboard_walk, is_pinyin_name
from core.accounts.passwords import character_classes, policy_errors

DATA = Path(__file__).resolve().parents[2] / "core" / "accounts" / "data"


def _refused_for(password: str, reason: str, **kw) -> list[str]:
    assert len(password) >= 8 and character_classes(password) >= 3, "the basic rules must not be the reason"
    errors = policy_errors(password, username=kw.pop("username", "qs.staff"), **kw)
    assert reason in errors, errors
    return errors


def test_the_list_holds_the_ten_thousand_most_common_passwords():
    lines = [s.strip() for s in (DATA / "common_passwords.txt").read_text("utf-8").splitlines()]
    words = [s for s in lines if s and not s.startswith("#")]
    assert len(words) >= 10000 and len(set(words)) == len(words)
    assert words[:4] == ["123456", "password", "12345678", "qwerty"]  # most frequent first
    common = blocklist.common_passwords()
    for word in ("dragon", "monkey", "letmein", "trustno1", "5201314", "woaini1314"):
        assert word in common


@pytest.mark.parametrize("password", ["Dragon#2026!", "Monkey@88", "LetMeIn!2026", "Sunshine##1", "B@seball#7"])
def test_a_common_password_with_digits_symbols_or_leetspeak_is_refused(password):
    _refused_for(password, blocklist.COMMON_DRESSED)


@pytest.mark.parametrize("password", ["Zhangwei@1990", "Wangfang88!", "LIUYANG#1a", "Xx#zhaomin", "Ouyang.Xiaoming1",
                                      "Chenjing_8", "Zh4ngw3i#26"])
def test_pinyin_names_are_refused(password):
    _refused_for(password, blocklist.PINYIN_NAME)


def test_pinyin_names_are_a_surname_and_one_or_two_given_syllables():
    assert is_pinyin_name("zhangwei") and is_pinyin_name("wangxiaoming") and is_pinyin_name("liuyang")
    assert not is_pinyin_name("passwort") and not is_pinyin_name("zhang") and not is_pinyin_name("weizhangq")


@pytest.mark.parametrize("password", ["Ab#19900307x", "Lp#20011231", "Xy#900307q", "Mq!0307zz", "Kite#1225k",
                                      "Birth19880229!a"])
def test_birthdays_are_refused(password):
    _refused_for(password, blocklist.BIRTHDAY)


@pytest.mark.parametrize(("digits", "date"), [("19900307", True), ("20240229", True), ("20230229", False),
                                             ("18990101", False), ("901231", True), ("901331", False),
                                             ("0307", True), ("1232", False), ("2026", False), ("123", False),
                                             ("0723984511", False)])
def test_what_counts_as_a_date(digits, date):
    assert has_date(f"Ab#{digits}x") is date


@pytest.mark.parametrize("password", ["Woaini1314", "W0aini#Lx", "Xk#5201314", "1314520Ab#", "Iloveyou!2", "Qa#1314zz"])
def test_love_words_and_numbers_are_refused(password):
    _refused_for(password, blocklist.LOVE)


@pytest.mark.parametrize("password", [
    "Qwerty#12", "Asdfgh#9x", "Zxcvbn#1A", "1qaz2wsxA#", "!QAZ@WSX#b", "Qazwsx#1A", "147258369Ab#", "Qweasd#1z",
    # found by the rule, not a list: other rows, backwards, other columns, the number pad
    "Rtyui#7A", "Lkjhg#2B", "Mnbvc#3c", "3edc4rfvX!", "Xx#963852741", "Ab#67890", "Poiuy!8Z", "Vfr4Cde3#x"])
def test_keyboard_walks_are_refused(password):
    _refused_for(password, blocklist.KEYBOARD)


@pytest.mark.parametrize(("text", "walk"), [("qwert", True), ("qwer", False), ("1qa", False), ("1qaz2", False),
                                           ("1qaz2ws", True), ("qaz", False), ("qazwsx", True), ("qazws", False), ("asdf#jkl", False),
                                           ("abcde", False), ("q1w2e3", False), ("zaq1xsw2", True)])
def test_what_counts_as_a_keyboard_walk(text, walk):
    assert has_keyboard_walk(text) is walk


@pytest.mark.parametrize(("password", "username"), [("Qs.Staff#1x", "qs.staff"), ("Xqsstaff1#", "qs.staff"),
                                                   ("Cg01G1#abc", "cg01.g1"), ("L3ader.W@ng9", "leader.wang")])
def test_the_username_is_refused_in_any_case_separator_or_leetspeak(password, username):
    _refused_for(password, blocklist.USERNAME, username=username)


@pytest.mark.parametrize("password", ["My青石Pass1", "Xx#石镇2026a", "青石镇Abc#1", "Ab1#民政局x", "Ab1#城关xy"])
def test_any_two_characters_of_the_unit_name_are_refused(password):
    _refused_for(password, blocklist.UNIT_NAME, unit_name=["青石镇", "城关街道 · 民政局"])


def test_unit_name_is_one_name_or_several_and_optional():
    assert blocklist.UNIT_NAME in policy_errors("My青石Pass1", username="qs.staff", unit_name="青石镇")
    assert blocklist.UNIT_NAME not in policy_errors("My青石Pass1", username="qs.staff", unit_name="柳河镇")
    assert policy_errors("My青石Pass1", username="qs.staff") == []  # the old signature still works
    assert policy_errors("Kx9#mQ2!vLp", username="qs.staff", unit_name=None) == []


@pytest.mark.parametrize("password", ["Kx9#mQ2!vLp", "Tr0ub4dor&3", "调解Abcd12", "Neues#Passwort2026",
                                      "Ab1#wxyz", "Vergessen#2026x"])
def test_passwords_without_a_pattern_are_accepted(password):
    assert policy_errors(password, username="qs.staff", unit_name="青石镇") == []


def test_every_refusal_names_its_reason_in_chinese():
    errors = policy_errors("Zhangwei19900307Qwerty", username="qs.staff")
    assert {blocklist.PINYIN_NAME, blocklist.BIRTHDAY, blocklist.KEYBOARD} <= set(errors)
    for reason in (blocklist.COMMON, blocklist.COMMON_DRESSED, blocklist.PINYIN_NAME, blocklist.BIRTHDAY,
                   blocklist.LOVE, blocklist.KEYBOARD, blocklist.USERNAME, blocklist.UNIT_NAME):
        assert reason.startswith(("密码", "该密码")) and len(set(reason) & set("不能常见")) >= 2
    assert len({blocklist.PINYIN_NAME, blocklist.BIRTHDAY, blocklist.LOVE, blocklist.KEYBOARD}) == 4
