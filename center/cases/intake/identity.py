"""Identity documents and phone numbers of parties (DOMAIN.md §2). Pure functions, no database.

* 居民身份证 (GB 11643): 17 digits + ISO 7064 MOD 11-2 check character (0–9 or X), with a real birth date.
  港澳台居民居住证 uses the same layout with area code 810000 (HK), 820000 (Macao) or 830000 (Taiwan); the
  2023 外国人永久居留身份证 is 18 characters starting with 9, checked the same way.
* 统一社会信用代码 (GB 32100): 18 characters over 0-9 and A-Z without I O Z S V, the last one a MOD 31 check.
* Phones: mainland mobile (1[3-9] + 9 digits, optionally +86) or a landline (area code 0xx/0xxx + 7–8 digits,
  optional extension). Normalised before encryption so the blind index matches however it was typed.

Every ``normalize_*`` returns the canonical form or raises ``ValueError`` with a Chinese message.
"""

from __future__ import annotations

import re
from datetime import date

from core.enums import LabelledEnum


class IdType(LabelledEnum):
    resident_id = "resident_id", "居民身份证"
    residence_permit = "residence_permit", "港澳台居民居住证"
    hk_macao_permit = "hk_macao_permit", "港澳居民来往内地通行证"
    taiwan_permit = "taiwan_permit", "台湾居民来往大陆通行证"
    foreign_permanent = "foreign_permanent", "外国人永久居留身份证"
    passport = "passport", "护照"
    uscc = "uscc", "统一社会信用代码"


ID_TYPE_LABELS = IdType.labels()

#: Documents that identify a person; organisations use the 统一社会信用代码.
PERSON_ID_TYPES = frozenset(IdType) - {IdType.uscc}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # index: weighted sum mod 11

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_SPACES = re.compile(r"[\s\u3000]+")


def _clean(value: str | None) -> str:
    return _SPACES.sub("", value or "").upper()


# --- 居民身份证 and documents in its layout ----------------------------------------------------------------

def resident_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("身份证号码前 17 位须为数字")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _birth_date_ok(number: str) -> bool:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    # 1800: GB 11643 itself prints a holder born in 1880. A birth date after today is always a typo.
    return born.year >= 1800 and born <= date.today()


def normalize_resident_id(value: str) -> str:
    number = _clean(value)
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9X]", number):
        raise ValueError("居民身份证号码应为 18 位，前 17 位为数字，最后一位为数字或 X")
    if not _birth_date_ok(number):
        raise ValueError("居民身份证号码中的出生日期不存在")
    if resident_id_check_char(number[:17]) != number[17]:
        raise ValueError("居民身份证号码校验位不正确，请核对")
    return number


def is_valid_resident_id(value: str) -> bool:
    try:
        normalize_resident_id(value)
    except ValueError:
        return False
    return True


def _normalize_residence_permit(value: str) -> str:
    number = normalize_resident_id(value)
    if number[:6] not in ("810000", "820000", "830000"):
        raise ValueError("港澳台居民居住证号码应以 810000、820000 或 830000 开头")
    return number


def _normalize_foreign_permanent(value: str) -> str:
    number = _clean(value)
    if re.fullmatch(r"[A-Z]{3}[0-9]{12}", number):  # the 2004 card: nationality + 12 digits
        return number
    if not re.fullmatch(r"9[0-9]{16}[0-9X]", number):
        raise ValueError("外国人永久居留身份证号码应为 18 位（以 9 开头）或旧版 15 位")
    if resident_id_check_char(number[:17]) != number[17]:
        raise ValueError("外国人永久居留身份证号码校验位不正确，请核对")
    return number


def _normalize_hk_macao(value: str) -> str:
    number = _clean(value)
    if not re.fullmatch(r"[HM][0-9]{8}([0-9]{2})?", number):
        raise ValueError("港澳居民来往内地通行证号码应为 H 或 M 开头加 8 位（或 10 位）数字")
    return number


def _normalize_taiwan(value: str) -> str:
    number = _clean(value)
    if not re.fullmatch(r"[0-9]{8}|[0-9]{10}|[0-9]{8}[A-Z][0-9]?", number):
        raise ValueError("台湾居民来往大陆通行证号码应为 8 位数字（或旧版 10 位）")
    return number


def _normalize_passport(value: str) -> str:
    number = _clean(value)
    if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
        raise ValueError("护照号码应为 5–20 位字母或数字")
    return number


# --- 统一社会信用代码 -------------------------------------------------------------------------------------------

def uscc_check_char(first17: str) -> str:
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise ValueError("统一社会信用代码前 17 位含有不允许的字符")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(value: str) -> str:
    code = _clean(value)
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        raise ValueError("统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）")
    if not re.fullmatch(r"[0-9]{6}", code[2:8]):
        raise ValueError("统一社会信用代码第 3–8 位应为行政区划码")
    if uscc_check_char(code[:17]) != code[17]:
        raise ValueError("统一社会信用代码校验位不正确，请核对")
    return code


def is_valid_uscc(value: str) -> bool:
    try:
        normalize_uscc(value)
    except ValueError:
        return False
    return True


_NORMALIZERS = {
    IdType.resident_id: normalize_resident_id,
    IdType.residence_permit: _normalize_residence_permit,
    IdType.hk_macao_permit: _normalize_hk_macao,
    IdType.taiwan_permit: _normalize_taiwan,
    IdType.foreign_permanent: _normalize_foreign_permanent,
    IdType.passport: _normalize_passport,
    IdType.uscc: normalize_uscc,
}


def normalize_document(id_type: IdType | str, number: str) -> str:
    """The canonical document number, or ValueError with a Chinese message."""
    try:
        kind = IdType(id_type)
    except ValueError:
        raise ValueError("证件类型不正确") from None
    if not _clean(number):
        raise ValueError(f"请填写{ID_TYPE_LABELS[kind]}号码")
    return _NORMALIZERS[kind](number)


# --- phones -------------------------------------------------------------------------------------------------

_MOBILE = re.compile(r"(?:\+?86)?(1[3-9][0-9]{9})")
_LANDLINE = re.compile(r"(?:\+?86-?)?(0[1-9][0-9]{1,2})-?([2-9][0-9]{6,7})(?:(?:-|转|EXT|#)([0-9]{1,6}))?")


def normalize_phone(value: str) -> str:
    """Mobile → its 11 digits; landline → area code and number as digits (plus "-<extension>"), however
    it was typed ("0571-8765 4321", "(0571)87654321" …). ValueError otherwise."""
    raw = _clean(value)
    for a, b in (("(", ""), (")", "-"), ("（", ""), ("）", "-"), ("—", "-")):
        raw = raw.replace(a, b)
    mobile = _MOBILE.fullmatch(raw.replace("-", ""))
    if mobile:
        return mobile.group(1)
    landline = _LANDLINE.fullmatch(raw)
    if landline and 10 <= len(landline.group(1) + landline.group(2)) <= 12:
        area, local, ext = landline.groups()
        return area + local + (f"-{ext}" if ext else "")
    raise ValueError("电话号码格式不正确：请填写 11 位手机号，或“区号-号码”形式的固定电话")


def is_valid_phone(value: str) -> bool:
    try:
        normalize_phone(value)
    except ValueError:
        return False
    return True
