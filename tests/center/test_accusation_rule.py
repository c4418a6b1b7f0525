"""The 检举控告 rule beyond reads: an accusation is never routed to, announced to or offered to the accused
unit's users — not through routing, 督办 notices, grid notices, owner candidates or intake's repeat check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from center.cases.intake.operations import find_repeat_candidates
from center.cases.lifecycle import operations as lifecycle
from center.cases.presenters import today_shanghai
from center.cases.routing import operations as routing
from center.cases.supervision import operations as supervision
from core.actor import Actor
from core.db import utcnow
from core.errors import ValidationFailed
from notify.models import Notification
from tests.factories import case_maker, make_case

# An accusation (检举控告) by letter the district center registered; each test names origin= and accused=.
_accusation = case_maker(by="center.li", kind="petition", petition_class="accusation", summary="举报村干部挪用集体资金",
                         channel="letter", applicant="匿名群众", repeat_of=None)


def _told(db, case, usernames, demo):
    ids = {demo.user(u).id for u in usernames}
    return [n for n in db.session.scalars(select(Notification)) if n.user_id in ids
            and case.number in str(n.payload)]


def test_an_accusation_against_the_township_goes_above_it_by_default(db, demo):
    case = _accusation(demo, accused="青石镇", origin="青石村")
    assert case.handling_unit == demo.unit("示范区")
    with pytest.raises(ValidationFailed) as refused:
        _accusation(demo, accused="青石镇", origin="青石村", handling_unit=demo.unit("青石镇"))
    assert "被检举控告单位" in str(refused.value.errors)


def test_it_cannot_be_handed_down_into_the_accused_unit(db, demo):
    case = _accusation(demo, accused="青石镇", origin="青石村")
    with pytest.raises(ValidationFailed):
        lifecycle.transition(case, "hand_down", actor=demo.actor("center.li"), unit=demo.unit("青石镇"))
    assert case.handling_unit == demo.unit("示范区")


def test_grid_workers_of_the_accused_village_hear_nothing(db, demo):
    # Filed at the grid by a village post (a district clerk files at village level or above: center.cases.routing.units).
    case = _accusation(demo, accused="上坝村", origin="上坝村第1网格", by="qs02.cadre")
    lifecycle.transition(case, "not_accept", actor=demo.actor("qs.staff"), note="不属于受理范围")
    assert _told(db, case, ["qs02.g1"], demo) == []


def test_supervision_and_owner_candidates_skip_the_accused_units_users(db, demo):
    case = _accusation(demo, accused="青石镇", origin="青石村",
                       at=utcnow() - timedelta(days=55))  # 55 of 60 days: 提醒 is due
    lifecycle.transition(case, "accept", actor=demo.actor("center.li"), at=utcnow() - timedelta(days=55))
    assert supervision.scan(Actor.system("job"), today=today_shanghai())[1] >= 1
    assert _told(db, case, ["qs.staff", "qs.leader", "qs.leader2"], demo) == []
    assert _told(db, case, ["center.li"], demo) or _told(db, case, ["center.chen"], demo)
    names = {u.username for u in routing.owner_candidates(case)} | {u.username for u in
                                                                    routing.assignee_candidates(case)}
    assert not names & {"qs.staff", "qs.leader", "qs.leader2", "qs.center"}


def test_intake_shows_repeat_candidates_only_from_the_clerks_jurisdiction(db, demo):
    person = {"role": "applicant", "kind": "person", "name": "周春梅", "id_type": "resident_id",
              "id_number": "11010519491231002X"}
    elsewhere = make_case(demo, "cg.staff", "城关街道", "petition", summary="物业纠纷", category="涉房/物业",
                          parties=[person], repeat_of=None)
    district = demo.unit("示范区")
    assert elsewhere in find_repeat_candidates(demo.actor("center.li"), [person], district=district)
    assert find_repeat_candidates(demo.actor("qs.staff"), [person], district=district) == []
    assert find_repeat_candidates(demo.actor("qs01.g1"), [person], district=district) == []
