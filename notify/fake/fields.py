"""Typed fields of Official Account category templates (类目模板), checked as the platform does since 2023-05-04.

Each template field has a type (the prefix of its key on the real platform: ``thing1``, ``time2`` …). A value
that breaks its type's rule is refused with errcode 47003. The rules follow WeChat's published table:

=================  ===================================================================================
thing              ≤ 20 characters: Han characters, letters, digits, symbols
character_string   ≤ 32 ASCII letters, digits or symbols (no spaces)
phrase             ≤ 5 Han characters only
time               24-hour time, optionally after a date: ``15:01``, ``2026年3月1日 15:01``, ``2026-03-01 15:01``;
                   a range joins two such values with ``~``
date               a date, optionally followed by a time: ``2026年3月1日``, ``2026-03-01``, ``03-01``, ``2026-03-01 15:01``
number             ≤ 32 digits, optionally with a decimal part
amount             one optional currency symbol + ≤ 10 digits, optional decimals, optional trailing ``元``
name               ≤ 10 characters if it contains Han characters, else ≤ 20 letters or symbols; never digits
phone_number       ≤ 17 digits and symbols (``+86-0571-88888888``)
car_number         ≤ 8 characters; the first and the last may be Han characters, the rest ASCII letters or digits
letter             ≤ 32 ASCII letters
symbol             ≤ 5 symbols
const              fixed by the template: may be omitted, any value sent is ignored
=================  ===================================================================================

No type accepts control characters (newlines included) or an empty value.
"""

from __future__ import annotations

import re

FIELD_TYPES = ("thing", "character_string", "phrase", "time", "date", "number", "amount", "name",
               "phone_number", "car_number", "letter", "symbol", "const")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{_HAN}]")
_ALL_HAN_RE = re.compile(f"[{_HAN}]+")
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_YEAR = r"\d{4}"
_DATE = (rf"(?:{_YEAR}年{_MONTH}月{_DAY}日|{_YEAR}年{_MONTH}月|{_MONTH}月{_DAY}日"
         rf"|{_YEAR}([-/.]){_MONTH}\1{_DAY}|{_YEAR}[-/.]{_MONTH}|{_MONTH}[-/.]{_DAY})")
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_ONE = rf"(?:{_DATE}\s*)?{_CLOCK}"
_DATE_ONE = rf"{_DATE}(?:\s*{_CLOCK})?"
_TIME_RE = re.compile(rf"{_TIME_ONE}(?:\s*~\s*{_TIME_ONE})?")
_DATE_RE = re.compile(rf"{_DATE_ONE}(?:\s*~\s*{_DATE_ONE})?")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_AMOUNT_RE = re.compile(r"[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?")
_CHARSTR_RE = re.compile(r"[!-~]+")
_LETTER_RE = re.compile(r"[A-Za-z]+")
_PHONE_RE = re.compile(r"[0-9!-/:-@\[-`{-~]+")
_ALNUM = re.compile(r"[A-Za-z0-9]")


def _has_control(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def _is_symbol(ch: str) -> bool:
    return not (ch.isalnum() or ch.isspace() or _HAN_RE.match(ch))


def check_value(field_type: str, value: str) -> str | None:
    """The reason a value breaks its field type, or None when the platform accepts it."""
    if field_type == "const":
        return None
    if value == "":
        return "is empty"
    if _has_control(value):
        return "contains control characters"
    length = len(value)
    if field_type == "thing":
        return f"exceeds 20 characters ({length})" if length > 20 else None
    if field_type == "character_string":
        if length > 32:
            return f"exceeds 32 characters ({length})"
        return None if _CHARSTR_RE.fullmatch(value) else "only ASCII letters, digits and symbols allowed"
    if field_type == "phrase":
        if length > 5:
            return f"exceeds 5 characters ({length})"
        return None if _ALL_HAN_RE.fullmatch(value) else "only Han characters allowed"
    if field_type == "time":
        return None if _TIME_RE.fullmatch(value.strip()) else "not a 24-hour time (optionally with a date)"
    if field_type == "date":
        return None if _DATE_RE.fullmatch(value.strip()) else "not a date"
    if field_type == "number":
        if length > 32:
            return f"exceeds 32 characters ({length})"
        return None if _NUMBER_RE.fullmatch(value) else "only digits allowed"
    if field_type == "amount":
        return None if _AMOUNT_RE.fullmatch(value) else "not an amount"
    if field_type == "name":
        return _check_name(value)
    if field_type == "phone_number":
        if length > 17:
            return f"exceeds 17 characters ({length})"
        return None if _PHONE_RE.fullmatch(value) else "only digits and symbols allowed"
    if field_type == "car_number":
        return _check_car_number(value)
    if field_type == "letter":
        if length > 32:
            return f"exceeds 32 characters ({length})"
        return None if _LETTER_RE.fullmatch(value) else "only letters allowed"
    if field_type == "symbol":
        if length > 5:
            return f"exceeds 5 characters ({length})"
        return None if all(_is_symbol(ch) for ch in value) else "only symbols allowed"
    return f"unknown field type {field_type}"


def _check_name(value: str) -> str | None:
    if any(ch.isdigit() for ch in value):
        return "digits not allowed in a name"
    if _HAN_RE.search(value):
        return f"exceeds 10 characters ({len(value)})" if len(value) > 10 else None
    if len(value) > 20:
        return f"exceeds 20 characters ({len(value)})"
    return None


def _check_car_number(value: str) -> str | None:
    if len(value) > 8:
        return f"exceeds 8 characters ({len(value)})"
    for index, ch in enumerate(value):
        edge = index in (0, len(value) - 1)
        if _ALNUM.fullmatch(ch) or (edge and _HAN_RE.fullmatch(ch)):
            continue
        return "not a licence plate"
    return None


def check_template_data(fields: dict[str, str], data) -> tuple[int, str, str] | None:
    """Check a template send's ``data`` against the template's typed fields.

    Returns None when accepted, else ``(errcode, field key, reason)``: 47001 when ``data`` is not an object of
    ``{"value": …}`` objects or a required field is missing, 47003 when a value breaks its type. Keys that the
    template does not have are ignored (the platform ignores them too).
    """
    if not isinstance(data, dict):
        return 47001, "data", "data must be an object"
    for key, field_type in fields.items():
        item = data.get(key)
        if item is None:
            if field_type == "const":
                continue
            return 47001, key, "missing"
        if not isinstance(item, dict) or "value" not in item:
            return 47001, key, "must be an object with a value"
        value = item["value"]
        if not isinstance(value, str):
            value = str(value)
        reason = check_value(field_type, value)
        if reason:
            return 47003, key, reason
    return None
