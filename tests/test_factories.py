"""The factories build through the operations: what they leave is what a clerk's form would have left (events,
audit rows, deadlines, active memberships), and the ``db`` fixture's audit guard stays quiet."""

from __future__ import annotations

import pytest

from core.actor import Actor
from tests.factories import actor, case_maker, make_case, make_unit, make_user


def test_make_case_defaults_are_a_registered_dispute_of_the_filers_unit(db, demo):
    case = make_case(demo)
    assert (case.kind, case.status, case.origin_unit.name, case.handling_unit.name) == (
        "dispute", "registered", "青石镇", "青石镇")
    assert [p.name for p in case.parties] == ["测试人"] and case.petition_class is None
    assert [e.action for e in case.events] == ["register"] and case.deadlines


def test_make_case_overrides_then_and_presets(db, demo):
    case = make_case(demo, "qs.staff", "青石村", "petition", respondent="李四", colour="orange", then=("accept",),
                     commit=True)
    assert (str(case.petition_class), str(case.risk_colour), str(case.status)) == ("appeal", "orange", "accepted")
    assert [str(p.role) for p in case.parties] == ["applicant", "respondent"] and case.handling_unit.name == "青石镇"
    preset = case_maker(summary="预设事项", applicant={"name": "王五", "phone": "13800001111"})
    made = preset(demo, "qs01.g1", summary="调用时给出的概要")
    assert made.summary == "调用时给出的概要" and made.origin_unit.name == "青石村第1网格"
    with pytest.raises(TypeError, match="origin="):  # an import has no unit of its own
        make_case(demo, Actor.system("test"))


def test_make_unit_and_make_user_go_through_the_operations(db, demo):
    grid = make_unit(demo, "青石村第9网格", parent="青石村")
    assert str(grid.kind) == "grid" and grid.path.startswith(demo.unit("青石村").path) and grid.depth == 3
    district = make_unit(demo, "另一测试区")
    assert str(district.kind) == "district" and district.case_prefix and len(district.code) == 12
    worker = make_user(demo, "qs01.g9", role="grid_worker", place=grid, commit=True)
    assert [(str(m.role), m.unit_id, str(m.status)) for m in worker.memberships] == [
        ("grid_worker", grid.id, "active")]
    assert actor(demo, "qs01.g9").memberships  # signs in and acts at once
    case = make_case(demo, "qs01.g9", channel="grid_report")
    assert case.origin_unit == grid and case.handling_unit.name == "青石村"
