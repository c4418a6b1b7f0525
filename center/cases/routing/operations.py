"""Who owns a case and who works it: the owner leader (领导包案) at the level the risk colour requires, the
handling person (承办人), and re-grading the risk colour (升级/降级). Operations never commit.

The colour → owner-leader map is configuration (``CASE_OWNER_LEVELS`` in the app config replaces
``DEFAULT_OWNER_LEVELS``): ``{colour: [rule, …]}``, a rule being a dict with
  ``role``  — a Role value, or ``"head"`` for the head of the unit ``at`` names (its tier's leader post,
              ``core.accounts.queries.leader_role``);
  ``at``    — ``"district"`` (the case's district), ``"township"`` (the township the case is handled in, or
              for a case handled at the district the township it came from) or ``"handling"`` (the handling
              unit itself);
  ``title`` — optional: the leader's title must contain it (e.g. "书记": the township party secretary).
An empty list: no owner leader is required, and none is taken (蓝: the grid worker follows up).
"""

from __future__ import annotations

import logging

from center.cases.models import RISK_LABELS, Case, CaseEvent, RiskColour
from center.cases.queries import may_hear_of
from core.accounts.models import ROLE_LABELS, Membership, Role, User
from core.accounts.queries import leader_role
from core.actor import Actor
from core.auth.permissions import can, require
from core.db import db
from core.errors import ValidationFailed
from core.org.models import OrgUnit
from core.work import timeline
from notify.render import shorten

logger = logging.getLogger(__name__)

TRIAGE = "case.triage"
HANDLE = "case.handle"
ASSIGN = "case.assign"
REASON_MAX = 500

#: DOMAIN.md §2: 红 → district leader or township party secretary, 橙 → township leader, 黄 → head of the
#: handling unit, 蓝 → no owner leader (the grid worker follows up).
DEFAULT_OWNER_LEVELS: dict[str, list[dict]] = {
    "red": [{"role": "district_leader", "at": "district"},
            {"role": "township_leader", "at": "township", "title": "书记"}],
    "orange": [{"role": "township_leader", "at": "township"}],
    "yellow": [{"role": "head", "at": "handling"}],
    "blue": [],
}
AT_LABELS = {"district": "本区县", "township": "所在乡镇(街道)", "handling": "办理单位"}


def owner_levels() -> dict[str, list[dict]]:
    from flask import current_app

    return dict(current_app.config.get("CASE_OWNER_LEVELS") or DEFAULT_OWNER_LEVELS)


def _rules(colour: RiskColour | str) -> list[dict]:
    return list(owner_levels().get(str(colour), []))


def owner_required(colour: RiskColour | str) -> bool:
    return bool(_rules(colour))


def _place(case: Case, at: str) -> OrgUnit | None:
    handling = case.handling_unit
    if at == "handling":
        return handling
    if at == "district":
        return db.session.get(OrgUnit, handling.ancestor_ids[0])
    if at == "township":
        for unit in (handling, case.origin_unit):
            ids = unit.ancestor_ids
            if len(ids) >= 2:
                return db.session.get(OrgUnit, ids[1])
        return None
    raise ValueError(f"unknown owner level place {at!r}")


def _rule_matches(rule: dict, case: Case, m: Membership, user: User) -> bool:
    place = _place(case, rule.get("at", "handling"))
    if place is None or m.unit_id != place.id:
        return False
    role = leader_role(place.tier) if rule["role"] == "head" else Role(rule["role"])
    if role is None or m.role != role:
        return False
    return not rule.get("title") or rule["title"] in (user.title or "")


def qualifies_as_owner(case: Case, user: User, colour: RiskColour | str | None = None) -> bool:
    """Does ``user`` hold a membership at the level the colour requires for this case?"""
    rules = _rules(colour or case.risk_colour)
    return user.is_active and any(_rule_matches(r, case, m, user) for r in rules for m in user.memberships
                                  if m.is_effective)


def describe_level(case: Case, colour: RiskColour | str | None = None) -> str:
    """The level in words, e.g. "区领导（示范区）或 乡镇领导（青石镇，职务含“书记”）"."""
    rules = _rules(colour or case.risk_colour)
    if not rules:
        return "无需包案领导，由网格员跟进"
    parts = []
    for rule in rules:
        place = _place(case, rule.get("at", "handling"))
        if place is None:
            continue
        role = leader_role(place.tier) if rule["role"] == "head" else Role(rule["role"])
        label = f"{ROLE_LABELS[role]}（{place.name}" if role else f"负责人（{place.name}"
        label += f"，职务含“{rule['title']}”）" if rule.get("title") else "）"
        parts.append(label)
    return " 或 ".join(parts) or "本事项所在层级没有可包案的领导岗位"


def owner_candidates(case: Case) -> list[User]:
    """Active users whose membership matches the case's owner level."""
    from sqlalchemy import select

    units = {p.id for p in (_place(case, r.get("at", "handling")) for r in _rules(case.risk_colour)) if p}
    if not units:
        return []
    users = db.session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                               .where(Membership.unit_id.in_(sorted(units)), User.is_active.is_(True))
                               .order_by(User.username)).unique()
    return [u for u in users if qualifies_as_owner(case, u) and may_hear_of(u, case)]


def assignee_candidates(case: Case) -> list[User]:
    """Active users holding case.handle over the case at its handling unit or an assigned department."""
    from sqlalchemy import or_, select

    departments = {a.department_id for a in case.assignments if a.is_live}
    if case.handling_department_id is not None:
        departments.add(case.handling_department_id)
    place = Membership.unit_id == case.handling_unit_id
    if departments:
        place = or_(place, Membership.department_id.in_(sorted(departments)))
    users = db.session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                               .where(place, User.is_active.is_(True)).order_by(User.username)).unique()
    return [u for u in users if can(Actor.for_user(u), HANDLE, case) and may_hear_of(u, case)]


def _notify(case: Case, user: User, what: str, event: CaseEvent) -> None:
    from notify.outbox import enqueue

    if not may_hear_of(user, case):
        return
    enqueue("case.owner_assigned", user,
            {"title": f"{what}：{case.number}", "body": shorten(case.summary, 60), "url": f"/cases/{case.number}",
             "number": case.number},
            key=f"case-owner-{case.id}-{event.id}-{user.id}")


def assign_owner(case: Case, *, actor: Actor, owner_leader: User | None = None,
                 assignee: User | None = None) -> CaseEvent:
    """Set the owner leader (包案领导) and/or the handling person (承办人); ``None`` leaves one unchanged."""
    require(actor, ASSIGN, case)
    errors: dict[str, list[str]] = {}
    if owner_leader is None and assignee is None:
        errors["owner_leader_id"] = ["请选择包案领导或承办人"]
    if owner_leader is not None:
        if not owner_required(case.risk_colour):
            errors["owner_leader_id"] = [f"{RISK_LABELS[case.risk_colour]}色事项无需包案领导，由网格员跟进"]
        elif not may_hear_of(owner_leader, case):
            # A leader of the accused unit may not even hear of a 检举控告 case, let alone own it.
            errors["owner_leader_id"] = ["检举控告事项的包案领导不能是被检举单位的人员"]
        elif not qualifies_as_owner(case, owner_leader):
            errors["owner_leader_id"] = [f"{RISK_LABELS[case.risk_colour]}色事项的包案领导须为："
                                         f"{describe_level(case)}"]
    if assignee is not None and not (assignee.is_active and can(Actor.for_user(assignee), HANDLE, case)):
        errors["assignee_id"] = ["承办人须为有权办理本事项的工作人员"]
    if errors:
        raise ValidationFailed(errors)
    changed, notes = [], []
    if owner_leader is not None and owner_leader.id != case.owner_leader_user_id:
        case.owner_leader = owner_leader
        changed.append("owner_leader_user_id")
        notes.append(f"包案领导：{owner_leader.display_name}")
    if assignee is not None and assignee.id != case.assignee_user_id:
        case.assignee = assignee
        changed.append("assignee_user_id")
        notes.append(f"承办人：{assignee.display_name}")
    if not changed:
        raise ValidationFailed({"owner_leader_id": ["所选人员与现在相同，没有变化"]})
    event = timeline.log(case, "assign_owner", actor=actor, note="；".join(notes), changed=changed)
    if "owner_leader_user_id" in changed:
        _notify(case, owner_leader, "您被指定为包案领导", event)
    if "assignee_user_id" in changed and assignee.id != actor.user_id:
        _notify(case, assignee, "您被指定为承办人", event)
    logger.info("case %s owner/assignee set by %s", case.number, actor)
    return event


def regrade(case: Case, colour: RiskColour | str, *, actor: Actor, reason: str) -> CaseEvent:
    """Change the risk colour (升级/降级), recorded with from → to and the reason. An owner leader who does not
    hold the new colour's level is released (the case page then asks for a new one)."""
    require(actor, ASSIGN, case)
    errors: dict[str, list[str]] = {}
    try:
        colour = RiskColour(colour)
    except ValueError:
        errors["risk_colour"] = ["请从列表中选择风险等级"]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["请填写调整风险等级的理由"]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"理由不能超过 {REASON_MAX} 个字"]
    if not errors and colour == case.risk_colour:
        errors["risk_colour"] = ["风险等级没有变化"]
    if errors:
        raise ValidationFailed(errors)
    order = list(RiskColour)  # red, orange, yellow, blue: most serious first
    before = case.risk_colour
    direction = "升级" if order.index(colour) < order.index(before) else "降级"
    case.risk_colour = colour
    changed = ["risk_colour"]
    note = f"{direction}：{RISK_LABELS[before]} → {RISK_LABELS[colour]}。理由：{reason}"
    if case.owner_leader is not None and not qualifies_as_owner(case, case.owner_leader):
        case.owner_leader = None
        changed.append("owner_leader_user_id")
        note += "（原包案领导层级不符，需重新指定）"
    event = timeline.log(case, "regrade", actor=actor, note=note, changed=changed)
    logger.info("case %s regraded %s → %s by %s", case.number, before, colour, actor)
    return event
