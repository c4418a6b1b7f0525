"""How an assignment reads on a page: since when it waits, the summons' time left or lateness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from center.departments.models import AssignmentStatus, CaseAssignment

S = AssignmentStatus


def duration_text(delta: timedelta) -> str:
    """A rough Chinese duration: "2 天 3 小时", "4 小时 5 分钟", "12 分钟" (never negative)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时" if hours else f"{days} 天"
    if hours:
        return f"{hours} 小时 {mins} 分钟" if mins else f"{hours} 小时"
    return f"{mins} 分钟"


def late_by(a: CaseAssignment, now: datetime | None = None) -> timedelta | None:
    """How late an on-call department arrived (or, not yet arrived, is now); None when on time or no summons."""
    if a.arrive_by is None:
        return None
    if a.arrived_at is not None:
        moment = a.arrived_at
    elif a.status in (S.summoned, S.acknowledged) and now is not None:
        moment = now
    else:
        return None
    delta = moment - a.arrive_by
    return delta if delta > timedelta(0) else None


@dataclass(frozen=True)
class ArrivalView:
    text: str
    colour: str  # green | yellow | red | blue


def arrival_view(a: CaseAssignment, now: datetime) -> ArrivalView | None:
    """The summons line: time left (yellow within 2 hours), late (red), arrived on time or late."""
    if a.arrive_by is None:
        return None
    late = late_by(a, now)
    if a.arrived_at is not None:
        if late:
            return ArrivalView(f"迟到 {duration_text(late)}", "red")
        return ArrivalView("按时到达", "green")
    if a.status not in (S.summoned, S.acknowledged):
        return None
    if late:
        return ArrivalView(f"已超时 {duration_text(late)}", "red")
    left = a.arrive_by - now
    return ArrivalView(f"剩 {duration_text(left)}", "yellow" if left <= timedelta(hours=2) else "blue")


def since(a: CaseAssignment) -> datetime | None:
    """When the assignment entered its current state."""
    if a.status == S.acknowledged:
        return a.acknowledged_at
    if a.status == S.active:
        return a.started_at or a.arrived_at
    if a.status in (S.done, S.withdrawn):
        return a.finished_at
    return a.assigned_at
