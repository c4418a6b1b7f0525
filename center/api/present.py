"""What the API answers about a case, as plain dicts for the dump schemas. Personal data is masked here
(core.crypto.mask), exactly as on the case page: the API never answers a plain document number, phone or
address."""

from __future__ import annotations

from sqlalchemy import select

from center.cases import registry
from center.cases.intake.operations import reveal
from center.cases.lifecycle.operations import allowed_actions
from center.cases.models import Case
from center.cases.presenters import RULE_LABELS, colour_of, next_deadlines, today_shanghai
from core.crypto import mask
from core.db import db


def _unit(unit) -> dict | None:
    return None if unit is None else {"id": unit.id, "name": unit.name}


def _next(view) -> dict | None:
    if view is None:
        return None
    return {"rule": view.rule, "label": view.label, "due_on": view.due_on, "days_left": view.days_left,
            "colour": view.colour, "provisional": view.provisional}


def summary(case: Case, next_deadline=None) -> dict:
    return {"number": case.number, "kind": case.kind.value,
            "petition_class": case.petition_class.value if case.petition_class else None,
            "status": case.status.value, "status_label": case.status_label, "category": case.category,
            "summary": case.summary, "risk_colour": case.risk_colour.value, "received_at": case.received_at,
            "handling_unit": _unit(case.handling_unit), "next_deadline": _next(next_deadline)}


def summaries(cases: list[Case]) -> list[dict]:
    upcoming = next_deadlines(cases)
    return [summary(c, upcoming.get(c.id)) for c in cases]


def _party(p) -> dict:
    plain = reveal(p)  # decrypted only to be masked, as on the case page
    return {"role": p.role.value, "kind": p.kind.value, "name": p.name,
            "id_type": p.id_type.value if p.id_type else None,
            "id_number": mask(plain["id_number"], 4, 4) if plain["id_number"] else None,
            "phone": mask(plain["phone"], 3, 4) if plain["phone"] else None,
            "address": mask(plain["address"], 6, 2) if plain["address"] else None}


def detail(case: Case) -> dict:
    from center.cases.lifecycle import clock

    today = today_shanghai()
    deadlines = []
    for d in sorted(case.deadlines, key=lambda d: (d.due_on, d.id)):
        deadlines.append({"rule": d.rule, "label": RULE_LABELS.get(d.rule, d.rule), "started_on": d.started_on,
                          "due_on": d.due_on, "days_left": (d.due_on - today).days,
                          "colour": "green" if d.met_at else colour_of(d, today), "provisional": d.provisional,
                          "met_at": d.met_at, "supervision_level": d.supervision_level, "kind": str(d.kind),
                          "responsible": (d.responsible_department.name if d.responsible_department is not None
                                          else d.responsible_unit.name if d.responsible_unit is not None else None),
                          "ended_by": d.ended_by, "late": clock.is_late(d, today)})
    out = summary(case, next_deadlines([case], today).get(case.id))
    out.update({"channel": case.channel.value, "demands": case.demands, "people_count": case.people_count,
                "is_collective": case.is_collective, "occurred_on": case.occurred_on,
                "origin_unit": _unit(case.origin_unit), "accused_unit": _unit(case.accused_unit),
                "repeat_of": case.repeat_of.number if case.repeat_of is not None else None,
                "xinfang_no": case.xinfang_no, "hotline_ticket": case.hotline_ticket,
                "court_case_no": case.court_case_no, "intake_key": case.intake_key,
                "parties": [_party(p) for p in case.parties], "deadlines": deadlines,
                "allowed_actions": [t.action for t in allowed_actions(case)]})
    return out


def events(case: Case) -> list[dict]:
    from core.accounts.models import User

    rows = sorted(case.events, key=lambda e: (e.at, e.id))
    ids = sorted({e.actor_user_id for e in rows if e.actor_user_id is not None})
    names = {uid: name for uid, name in db.session.execute(select(User.id, User.display_name)
                                                           .where(User.id.in_(ids)))} if ids else {}
    labels = registry.timeline_labels(case.kind)
    return [{"id": e.id, "action": e.action, "action_label": labels.get(e.action, e.action),
             "actor": names.get(e.actor_user_id), "at": e.at,
             "from_status": e.from_status.value if e.from_status else None,
             "to_status": e.to_status.value if e.to_status else None, "note": e.note} for e in rows]
