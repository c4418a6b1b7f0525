"""Who hears that a case came to them (issue #10: no dead ends). Each hand-off tells the receiving side's staff
and leaders, never the sender:

- 交办 (hand_down) and 上报 (escalate): the new handling unit's staff and leaders (a transition listener,
  registered by center.init_app; 转送 already tells the department, center.cases.lifecycle.operations._notify_organ);
- a case registered at another unit (its handling unit is none of the filer's own units): that unit's staff
  and leaders (``notify_registered_elsewhere``, called at the end of ``file_case``);
- 派单 and 随驻召集 tell the department's liaisons and head (center.departments.operations).

Who the staff and leaders of a unit are is ``center.cases.routing.units.unit_receivers``; who may hear of a 检举控告
case is ``center.cases.queries.hearers``. One idempotency key per event (or case) and user.
"""

from __future__ import annotations

from center.cases.models import Case, CaseChannel
from center.cases.queries import hearers
from center.cases.routing.units import unit_receivers
from core.actor import Actor
from core.org.models import OrgUnit
from notify.render import shorten

#: transition action → (notify event, title, what happened)
TOLD_ON = {"hand_down": ("case.handed_down", "交办事项", "已交办到{unit}，请及时受理办理"),
           "escalate": ("case.escalated", "上报事项", "已上报到{unit}，请及时受理办理")}


def _send(case: Case, unit: OrgUnit, actor: Actor, event: str, title: str, body: str, key: str) -> int:
    from notify.outbox import enqueue

    sent = 0
    for user in hearers(case, unit_receivers(unit)):
        if user.id == actor.user_id:
            continue
        enqueue(event, user, {"title": f"{title}：{case.number}", "body": body, "url": f"/cases/{case.number}",
                              "number": case.number, "status": case.status_label},
                key=f"{key}:{user.id}")
        sent += 1
    return sent


def on_transition(case: Case, event, actor: Actor) -> None:
    """center.cases.registry transition listener: a case handed down or escalated reaches its new unit."""
    told = TOLD_ON.get(event.action)
    if told is None:
        return
    name, title, what = told
    unit = case.handling_unit
    _send(case, unit, actor, name, title,
          f"事项 {case.number}（{case.category}）{what.format(unit=unit.name)}：{shorten(case.summary, 40)}",
          f"case-handoff:{event.action}:{event.id}")


def notify_registered_elsewhere(case: Case, actor: Actor) -> int:
    """A case filed for a unit other than the filer's own (a grid worker's case handled by the village, a
    township clerk's by one of its villages): that unit's staff and leaders hear of it. The system actor
    (an import job, the CLI) has no unit of its own, so a case it files is always "elsewhere" — nobody would
    otherwise know it is there. A grid worker's 代办 on the phone is told by village.operations itself
    ("case.agent_filed", once)."""
    if case.channel == CaseChannel.grid_agent:
        return 0
    unit = case.handling_unit
    if not actor.is_system and actor.user_id is not None:
        own = {m.unit_id for m in actor.memberships if m.unit_id is not None}
        if unit.id in own:
            return 0
    return _send(case, unit, actor, "case.registered_elsewhere", "登记交来事项",
                 f"事项 {case.number}（{case.category}）已登记，由{unit.name}办理，请及时受理：{shorten(case.summary, 40)}",
                 f"case-registered:{case.id}")


def init_app(app) -> None:
    from center.cases.registry import register_transition_listener

    register_transition_listener(on_transition)
