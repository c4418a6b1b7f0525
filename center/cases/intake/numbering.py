"""Case numbers: ``<district prefix>-<year>-<6 digits>``, one per case for life (DOMAIN.md §2).

One conditional ``UPDATE case_counters SET last = last + 1 … RETURNING last`` in the caller's transaction:
on PostgreSQL the row lock serialises concurrent writers (the second waits, then re-reads the bumped row);
on SQLite every write transaction already began with ``BEGIN IMMEDIATE``. The first number of a district's
year inserts the counter row inside a savepoint; a concurrent writer that inserted it first makes that
insert fail with an IntegrityError, after which the UPDATE simply runs again. A rolled-back transaction
gives its number back, so numbers have no gaps except from rollbacks after the caller's own failures.
"""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from center.cases.models import CaseCounter
from core.db import db
from core.org.models import OrgUnit, UnitKind

MAX_SEQUENCE = 999_999
NUMBER_RE = re.compile(r"(?P<prefix>[A-Z0-9]{1,8})-(?P<year>[0-9]{4})-(?P<seq>[0-9]{6})")


class NumberingExhausted(RuntimeError):
    """A district issued 999,999 numbers in one year."""


def format_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year:04d}-{sequence:06d}"


def _bump(district_id: int, year: int) -> int | None:
    stmt = (update(CaseCounter)
            .where(CaseCounter.district_id == district_id, CaseCounter.year == year)
            .values(last=CaseCounter.last + 1)
            .returning(CaseCounter.last)
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).scalar()


def next_sequence(district_id: int, year: int) -> int:
    value = _bump(district_id, year)
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(CaseCounter(district_id=district_id, year=year, last=0))
        except IntegrityError:
            pass  # another transaction created it first; its row is now ours to bump
        value = _bump(district_id, year)
    if value is None or value > MAX_SEQUENCE:
        raise NumberingExhausted(f"district {district_id} has no case numbers left for {year}")
    return value


def next_number(district: OrgUnit, year: int) -> str:
    """The next case number of ``district`` (a root unit with a case prefix) for ``year``."""
    if district.kind != UnitKind.district or not district.case_prefix:
        raise ValueError(f"{district!r} is not a district with a case prefix")
    return format_number(district.case_prefix, year, next_sequence(district.id, year))
