"""Deadlines of any subject of work: the columns a deadline row has (``DeadlineRow``), and the rules every
subject shares — how a period's last day is counted, what a duty and a window are, who is late, when 80 % of a
period is used, which 督办 level a row owes. A subject keeps its rows in its own table (a case: case_deadlines)
with these columns and ``core.work.models.BoundToSubject``; what starts and meets a row is the subject's own
business (center.cases.lifecycle.clock for a case), written with these functions so a screening report due
from a unit is timed, excused and supervised exactly as a case is.

- A **duty** row is the subject's handler's: held by one responsible unit or department, supervised (督办) and
  counted as lateness when it runs out.
- A **window** row is the citizen's (e.g. a 复查 request window): shown with its last day included, never
  supervised, never anyone's lateness.
Nothing here commits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, literal
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.calendar.days import SHANGHAI
from core.db import UTCDateTime, day_number
from core.enums import LabelledEnum, enum_column


class DeadlineKind(LabelledEnum):
    #: the handling side's duty: supervised (督办) and counted as lateness when it runs out
    duty = "duty", "办理期限"
    #: the citizen's window (复查/复核 request): informative only, never supervised nor counted late
    window = "window", "申请期限"


DEADLINE_KIND_LABELS = DeadlineKind.labels()
EPOCH = date(1970, 1, 1)  # day_number's day 0


class DeadlineRow:
    """The columns of a deadline row, whatever its subject."""

    #: the rule's name (the subject's rule table: its period, working or calendar days, its label)
    rule: Mapped[str] = mapped_column(String(32))
    #: the day of the triggering event (the period counts from the day after it)
    started_on: Mapped[date] = mapped_column(Date)
    #: the last day of the period (the deadline is the end of this day, Asia/Shanghai)
    due_on: Mapped[date] = mapped_column(Date)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    #: computed from a year without a published holiday table (暂定): recomputed when it is entered
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 督办 levels already sent for this row (0 none … 3 挂牌督办)
    supervision_level: Mapped[int] = mapped_column(Integer, default=0)
    #: when this holder took the step (None: from started_on); a continuation row starts at the move
    held_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the named act that ended the row: met_at is its date
    ended_by: Mapped[str | None] = mapped_column(String(32))

    @declared_attr
    def kind(cls) -> Mapped[DeadlineKind]:
        return mapped_column(enum_column(DeadlineKind, "deadline_kind"), default=DeadlineKind.duty)

    @declared_attr
    def responsible_unit_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("org_units.id"), index=True)

    @declared_attr
    def responsible_department_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("departments.id"), index=True)

    @declared_attr
    def continues_id(cls) -> Mapped[int | None]:
        """The row this one continues after a move (same period, new holder)."""
        return mapped_column(ForeignKey(f"{cls.__tablename__}.id"))


def shanghai_date(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def due_date(calendar, started_on: date, days: int, *, working_days: bool):
    """The last day of a period of ``days`` from ``started_on`` (the day after it is day 1), with whether it
    is provisional (暂定: it crosses a year without a published holiday table)."""
    return (calendar.add_working_days(started_on, days) if working_days
            else calendar.add_calendar_days(started_on, days))


def end(row: DeadlineRow, at: datetime, ended_by: str) -> None:
    """The named act ``ended_by`` ends ``row`` on ``at`` (met, or moved to a new holder)."""
    row.met_at, row.ended_by = at, ended_by


def is_late(row: DeadlineRow, today: date) -> bool:
    """Lateness charged to the row's holder: it held the step at the end of the last day (due_on) and had not
    met it. A continuation taken over after the last day is not its new holder's lateness; windows never are."""
    if row.kind == DeadlineKind.window:
        return False
    held_from = shanghai_date(row.held_since) if row.held_since is not None else row.started_on
    if held_from > row.due_on:
        return False
    if row.met_at is None:
        return today > row.due_on
    return shanghai_date(row.met_at) > row.due_on


def window_text(row: DeadlineRow) -> str:
    """The wording of a citizen's window: the last day is included."""
    text = f"可于 {row.due_on:%Y-%m-%d}（含当日）前提出"
    return text + "（暂定，待法定节假日安排公布后重算）" if row.provisional else text


def colour_of(row: DeadlineRow, today: date) -> str:
    """green, yellow from 80 % of the period used, red when overdue (DOMAIN.md §2 督办)."""
    if today > row.due_on:
        return "red"
    span = (row.due_on - row.started_on).days or 1
    used = (today - row.started_on).days
    return "yellow" if used / span >= 0.8 else "green"


def eighty_percent_used(started_on, due_on, today: date):
    """SQL twin of ``colour_of``'s yellow test on two DATE columns: by ``today`` at least 80 % of the period
    started_on → due_on is used, 5·(T − S) ≥ 4·(D − S) ⇔ S + 4·D ≤ 5·T (day numbers, both engines)."""
    return day_number(started_on) + 4 * day_number(due_on) <= literal(5 * (today - EPOCH).days)


def level_due(row: DeadlineRow, today: date, level2_due: date | None) -> int | None:
    """The 督办 level a duty row owes today, or None: 1 at 80 % of the period (not yet overdue), 2 once
    overdue, 3 when level 2's new due date has passed too; each once (``supervision_level`` is what was sent).
    A window never owes one. A row first seen overdue gets level 2 and never level 1."""
    if row.kind == DeadlineKind.window or row.met_at is not None or row.started_on > today:
        return None
    if today > row.due_on:
        if row.supervision_level < 2:
            return 2
        if row.supervision_level == 2 and level2_due is not None and today > level2_due:
            return 3
        return None
    span = (row.due_on - row.started_on).days
    elapsed = (today - row.started_on).days
    if row.supervision_level < 1 and 5 * elapsed >= 4 * span:
        return 1
    return None
