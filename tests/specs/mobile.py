"""Specs of the grid worker's phone pages (village.mobile) and their screens."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.browser.screens import Screen
from tests.specs.base import FormSpec

GRID = "青石村第1网格"
OPEN_GRID_CASE = "邻里因排水沟堵塞发生争执"  # demo d-new: filed by qs01.g1 in 青石村第1网格


def _case(demo, summary: str):
    from center.cases.models import Case

    return demo.db.session.scalar(select(Case).where(Case.summary == summary))


def _open(demo):
    return {"number": _case(demo, OPEN_GRID_CASE).number}


def _closed_grid_case(demo):
    """A dispute of the grid, mediated, approved and closed: a follow-up visit is due."""
    from center.cases.demo import _ready_to_close
    from center.cases.lifecycle.operations import transition
    from core.db import utcnow
    from tests.factories import make_case

    summary = "路边排水沟堵塞引发的邻里争执（回访用）"
    case = _case(demo, summary)
    if case is None:
        case = make_case(demo, "qs01.g1", GRID, summary=summary, category="邻里纠纷", channel="grid_report",
                         applicant="赵大爷", repeat_of=None)
        transition(case, "accept", actor=demo.actor("qs01.head"))
        transition(case, "mediate", actor=demo.actor("qs01.cadre"))
        _ready_to_close(case, {n: demo.user(n) for n in ("qs.staff", "qs.leader", "qs01.cadre", "qs01.head")},
                        at=utcnow())
        transition(case, "answer", actor=demo.actor("qs01.cadre"))
        transition(case, "close", actor=demo.actor("qs01.head"))
        demo.db.session.commit()
    return {"number": case.number}


FORM_SPECS = {
    "mobile.file": FormSpec(
        "qs01.g1", page=lambda demo: "/m/file", schema="village.schemas.AgentFilingArgs",
        valid=lambda demo: {"kind": "dispute", "name": "王秀兰", "phone": "13901011234", "category": "邻里纠纷",
                            "summary": "院墙外堆放建筑垃圾堵住排水沟", "consent": "1", "people_count": "1",
                            "intake_key": uuid.uuid4().hex}),
    "mobile.note": FormSpec(
        "qs01.g1", _open, lambda demo: f"/m/cases/{_open(demo)['number']}", schema="village.schemas.NoteArgs",
        valid=lambda demo: {"note": "已到现场查看"}),
    "mobile.escalation": FormSpec(
        "qs01.g1", _open, lambda demo: f"/m/cases/{_open(demo)['number']}", schema="village.schemas.EscalationArgs",
        valid=lambda demo: {"reason": "涉及多个村，村里协调不了"}),
    "mobile.follow_up": FormSpec(
        "qs01.g1", _closed_grid_case, lambda demo: f"/m/cases/{_closed_grid_case(demo)['number']}",
        schema="village.schemas.VisitArgs",
        valid=lambda demo: {"method": "home", "notes": "入户回访，双方已和好", "rating": "satisfied"}),
}

SCREENS = [
    Screen("mobile-file", "qs01.g1", "/m/file", "代办登记"),
    Screen("grid-workers", "qs01.cadre", "/village/grid-workers/", "网格员微信绑定"),
]
