"""Deadline rows of a generated case, kept the way center.cases.lifecycle.clock keeps them: the same rule table
(``deadline_rules()``, ``STARTS``/``MEETS``), the same holder (the handling organ when a row starts), the same
move (end the old holder's rows as "moved", continue them for the new one, restart a dispute's 受理 clock), and
due dates from the project's calendar (``core.calendar.load_calendar``, cached per start day and rule: a
district has ~1,500 distinct start days and nine rules, not 900,000 computations).

Also the 督办 the daily scan would have issued (core.work.deadlines.level_due, one row per level and deadline).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bench.d1.writer import utc
from center.cases.lifecycle.clock import AWAITS_ACCEPT, MOVES, RESTART_ON_MOVE
from center.cases.lifecycle.operations import MEETS, STARTS, deadline_rules
from center.cases.models import CaseKind
from center.cases.supervision.operations import LEVEL_FORMS, grace_days
from core.calendar import load_calendar

DUTY, WINDOW = "duty", "window"


class NotYet(Exception):
    """The next step of a case lies after now: the case stays where it is."""


class Clock:
    def __init__(self, rows, today: date):
        self.rows = rows
        self.today = today
        self.rules = deadline_rules()
        self.calendar = load_calendar()
        self.grace = grace_days()
        self._due: dict[tuple, tuple[date, bool]] = {}

    def due(self, started_on: date, rule: str) -> tuple[date, bool]:
        key = (started_on, rule)
        found = self._due.get(key)
        if found is None:
            spec = self.rules[rule]
            d = (self.calendar.add_working_days(started_on, spec.days) if spec.working_days
                 else self.calendar.add_calendar_days(started_on, spec.days))
            found = self._due[key] = (d.date, d.provisional)
        return found

    def working_days_after(self, day: date, n: int) -> date:
        return self.calendar.add_working_days(day, n).date

    # --- rows of one case ----------------------------------------------------------------------------------

    def start(self, case, names, at: datetime, *, started_on: date | None = None, kind: str = DUTY,
              holder: tuple | None = None) -> list[dict]:
        """``at`` is naive Shanghai time; a rule that already runs is not started twice."""
        out = []
        for name in names:
            if self.open_rows(case, {name}, kind=kind):
                continue
            day = started_on or at.date()
            due, provisional = self.due(day, name)
            unit_id, dept_id = holder if holder is not None else (
                case.holder() if kind == DUTY else (None, None))
            row = self.rows.add("case_deadlines", case_id=case.id, subject_id=case.subject_id, rule=name,
                                started_on=day, due_on=due, met_at=None, paused_days=0, provisional=provisional,
                                supervision_level=0, held_since=utc(at), ended_by=None, kind=kind,
                                responsible_unit_id=unit_id, responsible_department_id=dept_id,
                                created_at=utc(at), updated_at=utc(at))
            case.deadlines.append(row)
            out.append(row)
        return out

    @staticmethod
    def open_rows(case, names=None, *, kind: str | None = DUTY) -> list[dict]:
        return [d for d in case.deadlines if d["met_at"] is None and (names is None or d["rule"] in names)
                and (kind is None or d["kind"] == kind)]

    def meet(self, case, names, at: datetime, ended_by: str, *, kind: str = DUTY) -> list[dict]:
        rows = self.open_rows(case, set(names), kind=kind)
        for row in rows:
            row["met_at"], row["ended_by"], row["updated_at"] = utc(at), ended_by, utc(at)
        return rows

    def start_for(self, case, action: str, at: datetime) -> list[dict]:
        names = STARTS.get((CaseKind(case.kind), action), ())
        return self.start(case, names, at) if names else []

    def meet_for(self, case, action: str, at: datetime) -> list[dict]:
        names = MEETS.get((CaseKind(case.kind), action), ())
        return self.meet(case, names, at, action) if names else []

    def move(self, case, action: str, at: datetime) -> list[dict]:
        """After the case changed hands (``case`` names the new organ already)."""
        if action not in MOVES:
            return []
        holder = case.holder()
        new_rows = []
        for row in self.open_rows(case):
            if (row["responsible_unit_id"], row["responsible_department_id"]) == holder:
                continue
            row["met_at"], row["ended_by"], row["updated_at"] = utc(at), "moved", utc(at)
            if row["rule"] in RESTART_ON_MOVE:
                continue
            nxt = self.rows.add("case_deadlines", case_id=case.id, subject_id=case.subject_id, rule=row["rule"],
                                started_on=row["started_on"], due_on=row["due_on"], met_at=None,
                                paused_days=row["paused_days"], provisional=row["provisional"], supervision_level=0,
                                held_since=utc(at), ended_by=None, kind=row["kind"], responsible_unit_id=holder[0],
                                responsible_department_id=holder[1], continues_id=row["id"], created_at=utc(at),
                                updated_at=utc(at))
            case.deadlines.append(nxt)
            new_rows.append(nxt)
        if case.kind == "dispute" and case.status in AWAITS_ACCEPT:
            new_rows += self.start(case, ["dispute_accept"], at)
        return new_rows

    # --- 督办 -------------------------------------------------------------------------------------------------

    def supervise(self, case, issue) -> None:
        """The levels the daily scan (core.work.supervision.scan, 09:00) issued on each duty row while it ran
        unmet, for the rows that ran late: 1 at 80 % of the period, 2 the day after the last day (with a new due date ``grace`` working days
        on), 3 when that passed too — each once, and only while the case was open (``case.done_at``: the scan
        skips final statuses). ``issue(row, level, local time, new_due_on)`` writes the record."""
        for row in list(case.deadlines):
            if row["kind"] != DUTY:
                continue
            if row["met_at"] is not None and _local_date(row["met_at"]) <= row["due_on"]:
                continue  # met in time: its reminders are history nobody reads; the desks show what is late
            end = _local_date(row["met_at"]) if row["met_at"] is not None else self.today + timedelta(days=1)
            if case.done_on is not None:
                end = min(end, case.done_on)
            held = _local_date(row["held_since"]) if row["held_since"] is not None else row["started_on"]
            span = (row["due_on"] - row["started_on"]).days
            first_level1 = row["started_on"] + timedelta(days=-(-4 * span // 5))
            level = 0
            level1_day = max(first_level1, held)
            if span > 0 and level1_day <= row["due_on"] and level1_day < end:
                issue(row, 1, datetime.combine(level1_day, _NINE), None)
                level = 1
            level2_day = max(row["due_on"] + timedelta(days=1), held)
            if level2_day < end:
                new_due = self.working_days_after(level2_day, self.grace)
                issue(row, 2, datetime.combine(level2_day, _NINE), new_due)
                level = 2
                level3_day = new_due + timedelta(days=1)
                if level3_day < end:
                    issue(row, 3, datetime.combine(level3_day, _NINE), None)
                    level = 3
            row["supervision_level"] = level


_NINE = datetime.min.time().replace(hour=9)


def _local_date(aware: datetime) -> date:
    return (aware + timedelta(hours=8)).date()


__all__ = ["Clock", "DUTY", "LEVEL_FORMS", "NotYet", "WINDOW"]
