"""Guessable passwords (GB/T 22239-2019 §8.1.4.1 a, 口令复杂度): the common-password list and the patterns people
in China use — pinyin names, birthdays, 表白 numbers, keyboard walks, their username and their unit's name.

Each check looks at the password lower-cased, with leetspeak undone (``p@ssw0rd`` → ``password``) and with its
trailing digits and symbols stripped (``Zhangwei@1990`` → ``zhangwei``), because that is how people dress up a
weak word to pass the character-class rule. Each refusal names its reason in Chinese.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

COMMON = "该密码过于常见，请换一个"
COMMON_DRESSED = "该密码是常见密码加上数字或符号变形而成，过于常见，请换一个"
PINYIN_NAME = "密码不能是常见的拼音姓名（如 zhangwei、wangfang）"
BIRTHDAY = "密码不能包含生日等日期（如 19900307、900307、0307）"
LOVE = "密码不能包含 woaini、5201314、1314520 等常见表白语"
KEYBOARD = "密码不能包含键盘上连续的按键（如 qwerty、asdfgh、1qaz2wsx）"
USERNAME = "密码不能包含用户名"
UNIT_NAME = "密码不能包含所在单位的名称"

#: leetspeak read back as letters; "1" stands for both i and l, so both readings are tried
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s",
                       "!": "i", "+": "t"})
_LEET_L = str.maketrans({"1": "l"})
#: a shifted key stands for its unshifted one in keyboard walks (!QAZ@WSX is 1qaz2wsx typed with shift)
_UNSHIFT = str.maketrans({"!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8",
                          "(": "9", ")": "0", "_": "-", "+": "=", "{": "[", "}": "]", ":": ";", '"': "'",
                          "<": ",", ">": ".", "?": "/"})
_TRAILING = re.compile(r"[\W\d_]+$")
_LETTER_RUNS = re.compile(r"[a-z]{4,}")
_DIGIT_RUNS = re.compile(r"\d+")
_LOVE_WORDS = ("woaini", "iloveyou", "woaiwojia")
_LOVE_NUMBERS = ("5201314", "1314520", "1314")

#: keyboard lines by family; walks run along one line, or along neighbouring lines one after another
_KEYBOARD = (
    ("1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./"),  # rows
    ("1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/"),  # columns
    ("789", "456", "123"),  # number pad rows
    ("741", "852", "963"),  # number pad columns
)
WALK_MIN = 5
_SEGMENT_MIN = 3


def _data_lines(name: str) -> list[str]:
    text = resources.files("core.accounts").joinpath(f"data/{name}").read_text("utf-8")
    return [s for s in (line.strip().lower() for line in text.splitlines()) if s and not s.startswith("#")]


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    return frozenset(_data_lines("common_passwords.txt"))


@lru_cache(maxsize=1)
def _names() -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(_data_lines("pinyin_surnames.txt")), frozenset(_data_lines("pinyin_given.txt"))


def readings(password: str) -> set[str]:
    """The password as a guesser would try it: lower-cased, trailing digits/symbols stripped, leetspeak undone."""
    lower = password.lower()
    forms = {lower, _TRAILING.sub("", lower)}
    forms |= {f.translate(_LEET_L).translate(_LEET) for f in forms} | {f.translate(_LEET) for f in forms}
    return {f for f in forms if f}


def is_pinyin_name(word: str) -> bool:
    """A surname followed by one or two given-name syllables (zhangwei, ouyangxiaoming)."""
    surnames, given = _names()
    for cut in range(1, len(word)):
        if word[:cut] in surnames:
            rest = word[cut:]
            if rest in given or any(rest[:k] in given and rest[k:] in given for k in range(1, len(rest))):
                return True
    return False


def _valid_date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= monthrange(year, month)[1]


def has_date(password: str) -> bool:
    """A run of digits holding a date: YYYYMMDD (1920–2039) in a run of 8 or more, YYMMDD in a run of 6–7, MMDD in
    a run of 4–5. Shorter windows are not looked for in longer runs, or most long numbers would count."""
    for run in _DIGIT_RUNS.findall(password):
        n = len(run)
        if n >= 8:
            found = any(1920 <= int(run[i:i + 4]) <= 2039
                        and _valid_date(int(run[i:i + 4]), int(run[i + 4:i + 6]), int(run[i + 6:i + 8]))
                        for i in range(n - 7))
        elif n >= 6:
            found = any(_valid_date(2000, int(run[i + 2:i + 4]), int(run[i + 4:i + 6])) for i in range(n - 5))
        elif n >= 4:
            found = any(_valid_date(2000, int(run[i:i + 2]), int(run[i + 2:i + 4])) for i in range(n - 3))
        else:
            found = False
        if found:
            return True
    return False


def _run(s: str, i: int, line: str) -> int:
    """How many characters of ``s`` from ``i`` on follow ``line`` consecutively."""
    j = line.find(s[i]) if i < len(s) else -1
    if j < 0:
        return 0
    k = 0
    while i + k < len(s) and j + k < len(line) and s[i + k] == line[j + k]:
        k += 1
    return k


def _walk_from(s: str, i: int, lines: tuple[str, ...], index: int, step: int, total: int) -> bool:
    """Continue a walk at ``s[i]`` on the line ``index`` (either way along it) after ``total`` keys."""
    if not 0 <= index < len(lines):
        return False
    for line in (lines[index], lines[index][::-1]):
        seg = _run(s, i, line)
        if seg < _SEGMENT_MIN:
            continue
        if total + seg >= WALK_MIN:
            return True
        if _walk_from(s, i + seg, lines, index + step, step, total + seg):
            return True
    return False


def has_keyboard_walk(password: str) -> bool:
    """Five or more keys in a row along a keyboard row, or along neighbouring rows or columns taken one after
    another in three-key or longer pieces (qwerty, zxcvbn, 1qaz2wsx, qazwsx, qweasd, 147258369)."""
    s = password.lower().translate(_UNSHIFT)
    for i in range(len(s)):
        for lines in _KEYBOARD:
            for index, line in enumerate(lines):
                for oriented in (line, line[::-1]):
                    seg = _run(s, i, oriented)
                    if seg >= WALK_MIN:
                        return True
                    if seg >= _SEGMENT_MIN and any(_walk_from(s, i + seg, lines, index + step, step, seg)
                                                   for step in (1, -1)):
                        return True
    return False


def _alnum(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def contains_username(password: str, username: str) -> bool:
    """The username inside the password, as typed or with separators dropped and leetspeak undone."""
    name = (username or "").lower()
    if not name:
        return False
    lower = password.lower()
    if name in lower:
        return True
    bare = _alnum(name)
    return len(bare) >= 3 and any(bare in _alnum(form) or _alnum(name.translate(_LEET)) in _alnum(form)
                                  for form in readings(password))


def contains_unit_name(password: str, unit_names: Iterable[str]) -> bool:
    """Any two or more consecutive characters of a unit's name (青石镇 → 青石, 石镇, 青石镇); a piece of Latin letters
    or digits only counts from four characters, or two letters of an English name would refuse most passwords."""
    lower = password.lower()
    for name in unit_names:
        name = (name or "").strip().lower()
        for size in range(2, len(name) + 1):
            for start in range(len(name) - size + 1):
                piece = name[start:start + size]
                if (size >= 4 or not piece.isascii()) and piece.strip() == piece and piece in lower:
                    return True
    return False


def blocklist_errors(password: str, *, username: str, unit_names: Iterable[str] = ()) -> list[str]:
    """Chinese reasons why ``password`` is guessable (empty list: none found)."""
    errors = []
    forms = readings(password)
    lower = password.lower()
    if contains_username(password, username):
        errors.append(USERNAME)
    if contains_unit_name(password, unit_names):
        errors.append(UNIT_NAME)
    common = common_passwords()
    if lower in common:
        errors.append(COMMON)
    elif any(len(f) >= 4 and f in common for f in forms):
        errors.append(COMMON_DRESSED)
    words = {f for f in forms if f.isalpha() and f.isascii()} | set(_LETTER_RUNS.findall(lower))
    if any(is_pinyin_name(w) for w in words):
        errors.append(PINYIN_NAME)
    if has_date(password):
        errors.append(BIRTHDAY)
    if any(w in f for w in _LOVE_WORDS for f in forms) or any(n in lower for n in _LOVE_NUMBERS):
        errors.append(LOVE)
    if has_keyboard_walk(password):
        errors.append(KEYBOARD)
    return errors
