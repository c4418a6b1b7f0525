"""What a case list shows per row: the next open deadline, days left and its colour (DOMAIN.md §2 督办:
yellow from 80 % of the time used, red when overdue), computed for a whole page in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from center.cases.models import Case, Deadline, DeadlineKind
from core.db import db
from core.timefmt import SHANGHAI
from core.work.deadlines import EPOCH, colour_of, eighty_percent_used  # noqa: F401 - shared with every subject

RULE_LABELS = {"transfer": "转送交办", "notice": "受理告知", "answer": "办理答复", "dispute_resolve": "调处化解",
               "review_decision": "复查决定", "re_review_decision": "复核决定", "dispute_accept": "纠纷受理",
               "review_window": "申请复查期限", "re_review_window": "申请复核期限"}


@dataclass(frozen=True)
class DeadlineView:
    rule: str
    due_on: date
    days_left: int
    colour: str  # green | yellow | red
    provisional: bool

    @property
    def label(self) -> str:
        return RULE_LABELS.get(self.rule, self.rule)


def today_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


def next_deadlines(cases: list[Case], today: date | None = None) -> dict[int, DeadlineView]:
    """The earliest open deadline of each case (cases without one are absent)."""
    today = today or today_shanghai()
    ids = [c.id for c in cases]
    if not ids:
        return {}
    # Ordered here, not in SQL: an ORDER BY due_on draws the planner to the district-wide (met_at, due_on)
    # index instead of one probe per case into (case_id, met_at, due_on) — a few rows per case either way.
    rows = db.session.scalars(select(Deadline).where(Deadline.case_id.in_(ids), Deadline.met_at.is_(None),
                                                  Deadline.kind == DeadlineKind.duty))
    out: dict[int, DeadlineView] = {}
    for d in sorted(rows, key=lambda d: (d.due_on, d.id)):
        if d.case_id not in out:
            out[d.case_id] = DeadlineView(d.rule, d.due_on, (d.due_on - today).days, colour_of(d, today),
                                          d.provisional)
    return out


def deadline_rows(case: Case, today: date) -> list[dict]:
    """The case page's 办理期限 table: each row with its holder, what ended it and whether its holder was late;
    the petitioner's windows read as windows (last day included), never as anyone's lateness."""
    from center.cases.lifecycle import clock

    out = []
    for d in sorted(case.deadlines, key=lambda d: (d.due_on, d.id)):
        holder = (d.responsible_department.name if d.responsible_department is not None
                  else d.responsible_unit.name if d.responsible_unit is not None else "")
        if d.is_window:
            state = ("green", f"{clock.ENDED_BY_LABELS.get(d.ended_by, '已结束')} {d.met_at.astimezone(SHANGHAI):%m-%d}"
                     if d.met_at else None)
            if state[1] is None:
                state = ("off", "申请期限已过") if today > d.due_on else ("blue", clock.window_text(d))
        elif d.met_at is not None:
            when = f"{d.met_at.astimezone(SHANGHAI):%m-%d}"
            label = clock.ENDED_BY_LABELS.get(d.ended_by or "", "已完成")
            if d.ended_by == "moved":
                state = ("off", f"{when} 移交，由新的办理机关接续" + ("（移交时已超期）" if clock.is_late(d, today) else ""))
            else:
                state = ("red" if clock.is_late(d, today) else "green",
                         f"{'超期完成' if clock.is_late(d, today) else '已完成'} {when}（{label}）")
        else:
            days_left = (d.due_on - today).days
            if days_left < 0:
                state = ("red", f"超期 {-days_left} 天" + ("" if clock.is_late(d, today) else "（接手时已超期）"))
            else:
                state = (colour_of(d, today), f"剩 {days_left} 天")
        out.append({"row": d, "label": RULE_LABELS.get(d.rule, d.rule), "holder": holder or "—",
                    "window": d.is_window, "tone": state[0], "state": state[1]})
    return out
