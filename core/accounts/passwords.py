"""Password hashing (argon2id) and the password policy.

An unknown username still costs one hash (``burn_hash``), so response time does not reveal which
usernames exist.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.accounts.blocklist import blocklist_errors, common_passwords  # noqa: F401 - common_passwords re-exported


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def _current_hasher() -> PasswordHasher:
    from flask import current_app, has_app_context

    if has_app_context():
        return _hasher(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])
    return _hasher(3, 65536)


def hash_password(password: str) -> str:
    return _current_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _current_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: dict[tuple, str] = {}


def burn_hash(password: str) -> None:
    """Spend the same work as a real verification, for unknown usernames."""
    hasher = _current_hasher()
    key = (hasher.time_cost, hasher.memory_cost)
    if key not in _DUMMY:
        _DUMMY[key] = hasher.hash("not-a-real-password-§")
    verify_password(_DUMMY[key], password)


def character_classes(password: str) -> int:
    classes = [
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(not c.isalnum() or not c.isascii() for c in password),
    ]
    return sum(classes)


def policy_errors(password: str, *, username: str, min_length: int = 8, min_classes: int = 3,
                  unit_name: str | Iterable[str] | None = None) -> list[str]:
    """Chinese reasons why ``password`` breaks the policy (empty list: acceptable). ``unit_name``: the name, or
    the names, of the units and departments the user works at (core.accounts.blocklist)."""
    errors = []
    if len(password) < min_length:
        errors.append(f"密码至少 {min_length} 位")
    if character_classes(password) < min_classes:
        errors.append(f"密码需包含大写字母、小写字母、数字、符号中的至少 {min_classes} 类")
    units = [unit_name] if isinstance(unit_name, str) else list(unit_name or ())
    errors.extend(blocklist_errors(password, username=username, unit_names=units))
    return errors
