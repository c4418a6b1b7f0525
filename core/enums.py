"""Small helpers for string enums stored with CHECK constraints."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum


def enum_column(enum_cls: type[StrEnum], name: str):
    """A VARCHAR column limited by a CHECK constraint (portable; no native PG enum to migrate)."""
    return Enum(enum_cls, name=name, native_enum=False, create_constraint=True, length=24,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


def check_in(column: str, values, name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)
