"""督办 for any subject's deadlines (DOMAIN.md §2 Supervision), keyed by the deadline row: level 1 提醒 at 80 %
of the period, level 2 督办通知 once overdue (with a new due date some working days ahead), level 3 挂牌督办
when that has passed too — each exactly once per row, never for a window (``core.work.deadlines.level_due``).

A subject kind registers how its rows are found and what a level does to it (``register_supervised``): the
candidates (subject, row, level-2 new due date) it may owe a level today, how one level is recorded (its
record row, the timeline entry, the audit row; None when another scan recorded it first) and whom it tells,
once per subject per scan. ``scan`` walks every registered kind with the same level rule, so a screening
report due from a unit is chased exactly like a case. Nothing here commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from core.actor import Actor
from core.db import utcnow
from core.work.deadlines import level_due

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Supervised:
    #: (actor, today) -> [(subject, deadline row, level-2 new due date or None)], in a stable order
    candidates: Callable[[Actor, date], Iterable[tuple]]
    #: (actor, subject, row, level, new_due_on, now) -> the record of the level, or None if already issued
    issue: Callable[..., object | None]
    #: ([(subject, [(record, row)])]) -> None: tell the people, once per subject (all of one scan at once, so
    #: the kind can look its recipients up once per unit rather than once per subject)
    notify: Callable[[list], None]
    #: working days a level-2 督办 gives (its new due date)
    grace_days: Callable[[], int]


_kinds: dict[str, Supervised] = {}


def register_supervised(kind: str, *, candidates, issue, notify, grace_days) -> None:
    """Declare that ``kind``'s duty deadlines are supervised. Registering again replaces."""
    _kinds[kind] = Supervised(candidates, issue, notify, grace_days)


def supervised_kinds() -> list[str]:
    return list(_kinds)


def scan(actor: Actor, *, today: date, kinds: Iterable[str] | None = None) -> dict[int, int]:
    """Issue every 督办 level owed on ``today`` (Asia/Shanghai) for ``kinds`` (default every registered one).
    Returns {level: how many were issued}. State-driven: a missed or repeated run does the owed work once."""
    from core.calendar import load_calendar

    counts = {1: 0, 2: 0, 3: 0}
    calendar = None
    now: datetime = utcnow()
    for name in list(kinds) if kinds is not None else list(_kinds):
        spec = _kinds[name]
        issued: dict[int, tuple[object, list]] = {}
        for subject, row, level2_due in spec.candidates(actor, today):
            level = level_due(row, today, level2_due)
            if level is None:
                continue
            new_due = None
            if level == 2:
                calendar = calendar or load_calendar()
                new_due = calendar.add_working_days(today, spec.grace_days()).date
            record = spec.issue(actor, subject, row, level, new_due_on=new_due, now=now)
            if record is not None:
                counts[level] += 1
                issued.setdefault(id(subject), (subject, []))[1].append((record, row))
        if issued:
            spec.notify(list(issued.values()))
    if any(counts.values()):
        logger.info("督办 scan %s: level 1 %d, level 2 %d, level 3 %d", today, counts[1], counts[2], counts[3])
    return counts
