"""The statutory clock of a case (DOMAIN.md §2, 信访工作条例 2022): which rows run, who holds each, which
named act meets it, and who is late.

- A **duty** row is the handling side's: it is held by one responsible unit or department (the handling
  organ when it started), supervised (督办) and counted as lateness. It is met by a named act on a named
  date — 受理告知 by the approved 受理告知书 (or 不予受理通知书), 办理答复 by the approved 答复意见书, a dispute's
  调处化解 by its 调解协议 or recorded 调解不成 — never by a status change alone.
- A move (转送, 交办, 上报, 退回) ends the running rows of the old holder (``ended_by`` "moved") and opens a
  continuation row with the same period for the new one; a dispute's 受理 clock starts afresh instead, since
  the new holder gets its own days to accept.
- A **window** row is the petitioner's (复查/复核 request window): shown with its last day included, marked
  暂定 when computed from an unpublished holiday year, never supervised and never anyone's lateness.

Every function here runs inside the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import date, datetime

from center.cases.models import Case, CaseKind, Deadline, DeadlineKind
from core.db import db

# the rules every subject's deadlines share; is_late, window_text and shanghai_date are read from here too
from core.work.deadlines import due_date, end, is_late, shanghai_date, window_text  # noqa: F401

#: The steps that hand the case to another organ.
MOVES = frozenset({"escalate", "hand_down", "transfer", "return"})
#: Rules a move restarts for the new holder (its own days from the move) instead of continuing.
RESTART_ON_MOVE = frozenset({"dispute_accept"})
#: After a move a dispute waits to be accepted again (受理 within the configured days of the hand-down).
AWAITS_ACCEPT = frozenset({"registered", "handed_down", "escalated"})

#: What ended a row, as the timeline and the case page say it.
ENDED_BY_LABELS = {
    "accept": "受理", "not_accept": "决定不予受理", "hand_down": "交办", "transfer": "转送部门办理",
    "escalate": "上报", "return": "退回", "guide_to_legal": "导入法定程序", "moved": "移交，由新的办理机关接续计时",
    "notice_issued": "受理告知书印发", "not_accepted_notice": "不予受理告知书印发", "answer_issued": "答复意见书印发",
    "agreement": "达成调解协议", "mediation_failed": "调解不成（已记录）", "review_decided": "作出复查意见",
    "re_review_decided": "作出复核意见", "requested": "信访人已提出申请",
    "superseded": "重新办理后另行起算",
}


def holder(case: Case) -> tuple[int | None, int | None]:
    """(unit id, department id) of the handling organ now (read through the relationships: a transition sets
    them before the ids are flushed)."""
    unit = case.handling_unit
    department = case.handling_department
    return (unit.id if unit is not None else case.handling_unit_id), (department.id if department else None)


def open_rows(case: Case, names=None, *, kind: DeadlineKind | None = DeadlineKind.duty) -> list[Deadline]:
    return [d for d in case.deadlines if d.met_at is None and (names is None or d.rule in names)
            and (kind is None or d.kind == kind)]


def start(case: Case, names, at: datetime, *, started_on: date | None = None,
          kind: DeadlineKind = DeadlineKind.duty) -> list[Deadline]:
    """Start the rules ``names`` counted from ``started_on`` (default: the Shanghai date of ``at``). A rule
    that already runs (a continuation after a move) is not started twice."""
    from center.cases.lifecycle.operations import deadline_rules
    from core.calendar import load_calendar

    names = [n for n in names if not open_rows(case, {n}, kind=kind)]
    if not names:
        return []
    rules, calendar = deadline_rules(), load_calendar()
    started_on = started_on or shanghai_date(at)
    unit_id, department_id = holder(case) if kind == DeadlineKind.duty else (None, None)
    rows = []
    for name in names:
        rule = rules[name]
        due = due_date(calendar, started_on, rule.days, working_days=rule.working_days)
        row = Deadline(case=case, rule=name, kind=kind, started_on=started_on, due_on=due.date,
                       provisional=due.provisional, paused_days=0, supervision_level=0,
                       responsible_unit_id=unit_id, responsible_department_id=department_id, held_since=at)
        db.session.add(row)
        rows.append(row)
    return rows


def meet(case: Case, names, at: datetime, ended_by: str, *, kind: DeadlineKind = DeadlineKind.duty
         ) -> list[Deadline]:
    """The named act ``ended_by`` meets the open rows of ``names`` on ``at``."""
    rows = open_rows(case, set(names), kind=kind)
    for row in rows:
        end(row, at, ended_by)
    return rows


def move(case: Case, action: str, at: datetime) -> list[Deadline]:
    """After the case changed hands (``case`` already names the new organ): end the old holder's running duty
    rows and continue (or, for the dispute 受理 clock, restart) them for the new holder."""
    if action not in MOVES:
        return []
    unit_id, department_id = holder(case)
    new_rows = []
    for row in open_rows(case):
        if (row.responsible_unit_id, row.responsible_department_id) == (unit_id, department_id):
            continue  # the same holder (a no-op move) keeps its row
        end(row, at, "moved")
        if row.rule in RESTART_ON_MOVE:
            continue
        nxt = Deadline(case=case, rule=row.rule, kind=row.kind, started_on=row.started_on, due_on=row.due_on,
                       provisional=row.provisional, paused_days=row.paused_days, supervision_level=0,
                       responsible_unit_id=unit_id, responsible_department_id=department_id, held_since=at,
                       continues_id=row.id)
        db.session.add(nxt)
        new_rows.append(nxt)
    if case.kind == CaseKind.dispute and case.status.value in AWAITS_ACCEPT:
        new_rows += start(case, ["dispute_accept"], at)
    return new_rows
