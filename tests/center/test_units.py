"""center.cases.routing.units: the lists the forms offer are exactly the units the operations accept, for every unit of
the demo district (a form can neither offer a refused unit nor hide an allowed one)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from center.cases.lifecycle import operations as lifecycle
from center.cases.models import CaseKind
from center.cases.routing import units
from core.errors import ValidationFailed
from core.org.models import OrgUnit
from tests.factories import make_case


def _all_units(db) -> list[OrgUnit]:
    return list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.code)))


@pytest.mark.parametrize("username", ["center.li", "qs.staff", "qs01.head", "qs01.cadre", "qs01.g1", "cg.staff"])
def test_intake_options_are_the_units_origin_refusal_accepts(db, demo, username):
    actor = demo.actor(username)
    offered = {u.id for u in units.intake_units(actor)}
    accepted = {u.id for u in _all_units(db) if units.origin_refusal(actor, u) is None}
    assert offered == accepted and offered


def test_who_files_at_a_grid(db, demo):
    grid = demo.unit("青石村第1网格")
    assert units.origin_refusal(demo.actor("qs01.g1"), grid) is None
    assert units.origin_refusal(demo.actor("qs01.cadre"), grid) is None
    assert units.origin_refusal(demo.actor("qs.staff"), grid) == units.GRID_BY_UPPER_TIER
    assert units.origin_refusal(demo.actor("center.li"), grid) == units.GRID_BY_UPPER_TIER
    assert units.origin_refusal(demo.actor("qs01.g1"), demo.unit("青石村第2网格")) == units.OUTSIDE_SCOPE


@pytest.mark.parametrize("username", ["qs.staff", "qs01.cadre", "qs01.g1"])
def test_every_offered_handling_unit_is_one_the_rule_may_accept(db, demo, username):
    """The handling options are the actor's; the case (kind, origin) then narrows them, never widens them."""
    actor = demo.actor(username)
    offered = {u.id for u in units.intake_handling_units(actor)}
    origin = units.intake_units(actor)[0]
    for kind in CaseKind:
        for unit in _all_units(db):
            if units.intake_handling_refusal(actor, kind, origin, unit) is None:
                assert unit.id in offered, (kind, unit.name)


@pytest.mark.parametrize(("kind", "handling"), [("dispute", "青石镇"), ("petition", "青石镇"), ("petition", "示范区")])
def test_hand_down_options_are_what_the_transition_accepts(db, demo, kind, handling):
    clerk = "center.li" if handling == "示范区" else "qs.staff"
    case = make_case(demo, clerk, handling, kind, summary="交办选项测试", applicant="交办测试人")
    offered = {u.id for u in units.hand_down_targets(case)}
    assert bool(offered) != (kind == "petition" and handling == "青石镇")  # nothing below a township takes a petition
    below = [u for u in _all_units(db) if u.is_within(case.handling_unit) and u.id != case.handling_unit_id]
    for unit in below:
        savepoint = db.session.begin_nested()
        try:
            lifecycle.transition(case, "hand_down", actor=demo.actor(clerk), unit=unit)
            accepted = True
        except ValidationFailed:
            accepted = False
        savepoint.rollback()
        db.session.expire_all()
        assert accepted == (unit.id in offered), unit.name


def test_default_handling_unit_climbs_to_the_first_unit_that_may_handle(db, demo):
    grid = demo.unit("青石村第1网格")
    assert units.default_handling_unit(CaseKind.dispute, grid).name == "青石村"
    assert units.default_handling_unit(CaseKind.petition, grid).name == "青石镇"
    assert units.default_handling_unit(CaseKind.petition, grid, demo.unit("青石镇")).name == "示范区"
