"""The kernel's 督办 service (core.work.supervision) over a subject that is not a case: the same level rule
(core.work.deadlines.level_due), each level recorded once per deadline row whatever the number of scans, never
a level for a window, and the people told once per subject per scan with every level of that scan. The case's
use of it is tests/center/test_supervision.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from core.actor import Actor
from core.work import supervision
from core.work.deadlines import DeadlineKind, level_due

TODAY = date(2026, 12, 3)


@dataclass
class Row:
    started_on: date
    due_on: date
    kind: DeadlineKind = DeadlineKind.duty
    met_at: object = None
    supervision_level: int = 0


@dataclass
class Report:
    """A screening report due from a unit, say: a subject with deadline rows of its own."""

    name: str
    rows: list[Row]
    records: list[tuple[int, int]] = field(default_factory=list)  # (row index, level)


@pytest.fixture()
def reports(app):
    due_soon = Report("青石镇", [Row(TODAY - timedelta(days=9), TODAY + timedelta(days=1))])
    overdue = Report("城关街道", [Row(TODAY - timedelta(days=20), TODAY - timedelta(days=2)),
                              Row(TODAY - timedelta(days=20), TODAY - timedelta(days=1))])
    window = Report("下坝村", [Row(TODAY - timedelta(days=40), TODAY - timedelta(days=5), kind=DeadlineKind.window)])
    subjects = [due_soon, overdue, window]
    told: list[tuple[str, list[int]]] = []

    def candidates(actor, today):
        return [(s, r, None) for s in subjects for r in s.rows if r.met_at is None]

    def issue(actor, subject, row, level, *, new_due_on, now):
        if row.supervision_level >= level:
            return None  # the backstop: recorded already
        row.supervision_level = level
        subject.records.append((subject.rows.index(row), level))
        return (level, new_due_on)

    def notify(issued):
        told.extend((subject.name, sorted(level for (level, _due), _row in records)) for subject, records in issued)

    supervision.register_supervised("test.report", candidates=candidates, issue=issue, notify=notify,
                                    grace_days=lambda: 5)
    yield subjects, told
    supervision._kinds.pop("test.report", None)


def test_every_kind_gets_the_same_levels_once(app, reports):
    (due_soon, overdue, window), told = reports
    actor = Actor.system("job")
    with app.app_context():
        first = supervision.scan(actor, today=TODAY, kinds=["test.report"])
        again = supervision.scan(actor, today=TODAY, kinds=["test.report"])
    assert first == {1: 1, 2: 2, 3: 0} and again == {1: 0, 2: 0, 3: 0}
    assert due_soon.records == [(0, 1)] and overdue.records == [(0, 2), (1, 2)] and window.records == []
    assert told == [("青石镇", [1]), ("城关街道", [2, 2])]  # one message per subject, both rows in it


def test_the_level_rule():
    start, due = TODAY - timedelta(days=10), TODAY + timedelta(days=10)
    assert level_due(Row(start, due), TODAY, None) is None  # 50 %
    assert level_due(Row(start, TODAY + timedelta(days=2)), TODAY, None) == 1  # 10 of 12 days
    assert level_due(Row(start, TODAY - timedelta(days=1)), TODAY, None) == 2  # overdue: 2, never 1
    assert level_due(Row(start, TODAY - timedelta(days=1), supervision_level=2), TODAY, TODAY) is None
    assert level_due(Row(start, TODAY - timedelta(days=1), supervision_level=2), TODAY,
                     TODAY - timedelta(days=1)) == 3
    assert level_due(Row(start, TODAY - timedelta(days=1), kind=DeadlineKind.window), TODAY, None) is None
    assert level_due(Row(start, TODAY - timedelta(days=1), met_at=object()), TODAY, None) is None
    assert level_due(Row(TODAY + timedelta(days=1), TODAY + timedelta(days=9)), TODAY, None) is None
