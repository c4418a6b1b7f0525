"""The case page's 部门派单 panel: the assignments with their times and results, the dispatch form for the
handling side, and for the department's own users the button of their next step."""

from __future__ import annotations

from center.cases.models import Case
from center.departments.models import AssignmentStatus
from center.departments.operations import (
    DISPATCH_BLOCKED,
    allowed_departments,
    arrival_place,
    may_triage,
    may_work,
)
from center.departments.presenters import arrival_view
from core.actor import Actor
from core.db import utcnow

S = AssignmentStatus
STEP_LABELS = {"acknowledge": "响应召集", "arrive": "登记到达", "take": "接办", "complete": "办结反馈",
               "withdraw": "撤回派单"}


def step_actions(a, actor: Actor, *, triage: bool) -> list[str]:
    """The steps this actor may take on this assignment now (buttons; the operations check again)."""
    own = not actor.is_system and may_work(actor, a)
    steps = []
    if a.status == S.summoned and own:
        steps.append("acknowledge")
    if a.status in (S.summoned, S.acknowledged) and (own or triage):
        steps.append("arrive")
    if a.status == S.queued and own:
        steps.append("take")
    if a.status == S.active and own:
        steps.append("complete")
    if a.is_live and triage:
        steps.append("withdraw")
    return steps


def department_options(case: Case) -> list[tuple[str, str]]:
    """(id, label) of the departments the case may go to now: allowed and without a live assignment."""
    live = {a.department_id for a in case.assignments if a.is_live}
    return [(str(d.id), f"{d.name}（{d.kind_label}）· {d.unit.name}") for d in allowed_departments(case)
            if d.id not in live]


def dispatch_context(case: Case, actor: Actor) -> dict:
    return {"case": case, "options": department_options(case), "place": arrival_place(case)}


def panel_context(case: Case, actor: Actor) -> dict | None:
    triage = may_triage(actor, case)
    can_dispatch = triage and case.status not in DISPATCH_BLOCKED
    now = utcnow()
    place = arrival_place(case)
    rows = [{"a": a, "arrival": arrival_view(a, now), "steps": step_actions(a, actor, triage=triage),
             "place": place if a.arrive_by and a.status in (S.summoned, S.acknowledged) else None}
            for a in sorted(case.assignments, key=lambda a: a.id)]
    if not rows and not can_dispatch:
        return None
    return {"rows": rows, "can_dispatch": can_dispatch, "options": department_options(case) if can_dispatch else [],
            "step_labels": STEP_LABELS, "form": {}, "errors": {}, "place": place}
