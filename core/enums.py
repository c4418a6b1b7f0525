"""String enums that carry their Chinese labels, and the column helpers that store them with CHECK constraints."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum


class LabelledEnum(StrEnum):
    """A string enum whose members carry their Chinese label: ``dispute = "dispute", "矛盾纠纷"``. The value is
    what is stored; ``member.label`` is what people read; ``labels()`` is the {member: label} table a page or an
    export needs. One place per label, instead of a dict beside the enum that can forget a member."""

    label: str

    def __new__(cls, value: str, label: str | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label if label is not None else value
        return member

    @classmethod
    def labels(cls) -> dict:
        return {member: member.label for member in cls}


def enum_column(enum_cls: type[StrEnum], name: str):
    """A VARCHAR column limited by a CHECK constraint (portable; no native PG enum to migrate)."""
    return Enum(enum_cls, name=name, native_enum=False, create_constraint=True, length=24,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


def check_in(column: str, values, name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)
