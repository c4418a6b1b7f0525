"""Grid workers hear of their grid's cases: hand-down, closing (follow-up due), and the morning reminders —
each once, on a link to the phone page of the case."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from center.cases.lifecycle.operations import transition
from center.cases.presenters import today_shanghai
from core.actor import Actor
from core.db import utcnow
from notify.models import Notification
from tests.factories import case_maker
from village.notices import morning_reminders

GRID = "青石村第1网格"


# A dispute the grid worker reported at GRID for 青石镇 to handle.
_grid_petition = case_maker(by="qs01.g1", origin=GRID, handling="青石镇", summary="村道边堆放杂物影响通行",
                            category="邻里纠纷", channel="grid_report", applicant="钱大妈", repeat_of=None)


def _notices(db, user, event):
    return db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                         Notification.event == event)).all()


def test_a_grid_case_handed_down_to_the_village_reaches_the_grid_worker(db, demo):
    case = _grid_petition(demo)
    transition(case, "hand_down", actor=demo.actor("qs.staff"), unit=demo.unit("青石村"))
    [notice] = _notices(db, demo.user("qs01.g1"), "grid.hand_down")
    assert notice.payload["url"] == f"/m/cases/{case.number}" and "交办" in notice.payload["title"]
    assert _notices(db, demo.user("qs01.g2"), "grid.hand_down") == []  # another grid's worker hears nothing


def test_the_morning_reminders_name_near_deadlines_once_a_day(db, demo):
    case = _grid_petition(demo, at=utcnow() - timedelta(days=26))  # accepted 26 days ago: 26/30 of 调处化解 used
    transition(case, "accept", actor=demo.actor("qs.staff"), at=utcnow() - timedelta(days=26))
    today = today_shanghai()
    first = morning_reminders(Actor.system("job"), today=today)
    again = morning_reminders(Actor.system("job"), today=today)
    assert first["deadline"] >= 1 and again == first
    mine = _notices(db, demo.user("qs01.g1"), "grid.deadline_near")
    assert len([n for n in mine if n.payload["number"] == case.number]) == 1
    tomorrow = morning_reminders(Actor.system("job"), today=today + timedelta(days=1))
    assert tomorrow["deadline"] >= 1
