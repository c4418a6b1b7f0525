"""Owner leader (包案) and handling person (center.cases.routing.operations): the colour → level map as a table, the
configurable map, the assignee rule, permissions, and re-grading recorded on the timeline."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from center.cases.models import CaseEvent, RiskColour
from center.cases.routing import operations as routing
from core.audit.models import AuditEntry
from core.errors import PermissionDenied, ValidationFailed
from tests.factories import case_maker

# A yellow dispute a 青石镇 clerk registered at 青石村 (flushed, not committed).
make_case = case_maker(origin="青石村", summary="包案测试事项", applicant="包案测试人", repeat_of=None)


# (colour, kind, origin, handling unit, candidate, accepted?)
OWNER_TABLE = [
    # 红: a district leader, or the township party secretary (党委书记), never another township leader
    ("red", "petition", "青石镇", "青石镇", "leader.wang", True),
    ("red", "petition", "青石镇", "青石镇", "qs.leader", True),
    ("red", "petition", "青石镇", "青石镇", "qs.leader2", False),
    ("red", "dispute", "青石村", "青石村", "qs.leader", True),
    ("red", "dispute", "青石村", "青石村", "qs01.head", False),
    ("red", "petition", "青石镇", "示范区", "qs.leader", True),  # handled at the district: its own township
    ("red", "petition", "青石镇", "青石镇", "cg.leader", False),  # another township's secretary
    # 橙: a leader of the township
    ("orange", "dispute", "青石村", "青石村", "qs.leader", True),
    ("orange", "dispute", "青石村", "青石村", "qs.leader2", True),
    ("orange", "dispute", "青石村", "青石村", "qs01.head", False),
    ("orange", "dispute", "青石村", "青石村", "leader.wang", False),
    ("orange", "dispute", "青石村", "青石村", "qs.staff", False),
    # 黄: the head of the handling unit
    ("yellow", "dispute", "青石村", "青石村", "qs01.head", True),
    ("yellow", "dispute", "青石村", "青石村", "qs01.cadre", False),
    ("yellow", "dispute", "青石村", "青石村", "qs.leader", False),
    ("yellow", "petition", "青石镇", "青石镇", "qs.leader", True),
    ("yellow", "petition", "青石镇", "青石镇", "qs01.head", False),
    ("yellow", "petition", "青石镇", "示范区", "leader.zhao", True),
    ("yellow", "petition", "青石镇", "示范区", "qs.leader", False),
    # 蓝: no owner leader (the grid worker follows up)
    ("blue", "dispute", "青石村", "青石村", "qs01.head", False),
    ("blue", "dispute", "青石村", "青石村", "qs.leader", False),
]


@pytest.mark.parametrize(("colour", "kind", "origin", "handling", "who", "ok"), OWNER_TABLE)
def test_the_owner_leader_must_hold_the_level_the_colour_requires(db, demo, colour, kind, origin, handling, who,
                                                                  ok):
    case = make_case(demo, colour=colour, kind=kind, origin=origin, handling=handling, by="center.li")
    leader = demo.user(who)
    assert routing.qualifies_as_owner(case, leader) is ok
    if ok:
        event = routing.assign_owner(case, actor=demo.actor("center.li"), owner_leader=leader)
        assert case.owner_leader_user_id == leader.id and event.action == "assign_owner"
        assert leader in routing.owner_candidates(case)
    else:
        with pytest.raises(ValidationFailed) as refused:
            routing.assign_owner(case, actor=demo.actor("center.li"), owner_leader=leader)
        assert "owner_leader_id" in refused.value.errors and case.owner_leader_user_id is None
        assert leader not in routing.owner_candidates(case)


def test_the_map_is_configuration(app, db, demo):
    case = make_case(demo, colour="blue")
    assert not routing.owner_required(RiskColour.blue)
    app.config["CASE_OWNER_LEVELS"] = {**routing.DEFAULT_OWNER_LEVELS,
                                       "blue": [{"role": "village_head", "at": "handling"}]}
    try:
        assert routing.owner_required("blue") and "村(社区)主任（青石村）" in routing.describe_level(case)
        routing.assign_owner(case, actor=demo.actor("qs.staff"), owner_leader=demo.user("qs01.head"))
        assert case.owner_leader_user_id == demo.user("qs01.head").id
    finally:
        app.config.pop("CASE_OWNER_LEVELS")
    assert routing.describe_level(case) == "无需包案领导，由网格员跟进"


def test_the_assignee_must_be_able_to_handle_the_case(db, demo):
    case = make_case(demo)  # a dispute handled at 青石村
    routing.assign_owner(case, actor=demo.actor("qs.staff"), assignee=demo.user("qs01.cadre"))
    assert case.assignee_user_id == demo.user("qs01.cadre").id
    assert demo.user("qs01.cadre") in routing.assignee_candidates(case)
    for outsider in ("qs01.g1", "cg.staff", "qs02.cadre", "qs.leader"):
        with pytest.raises(ValidationFailed) as refused:
            routing.assign_owner(case, actor=demo.actor("qs.staff"), assignee=demo.user(outsider))
        assert "assignee_id" in refused.value.errors, outsider
    with pytest.raises(ValidationFailed):
        routing.assign_owner(case, actor=demo.actor("qs.staff"))  # nothing chosen


def test_a_leader_of_the_accused_unit_is_never_made_owner_of_the_accusation(db, demo):
    """A township leader of 青石镇 who also holds a post at 柳河镇 qualifies by level for a yellow accusation
    handled at 青石镇, but it accuses 柳河镇: the operation refuses them (not only the candidate list)."""
    from tests.factories import make_user

    case = make_case(demo, kind="petition", petition_class="accusation", origin="青石镇", handling="青石镇",
                     accused="柳河镇", by="center.li")
    both = make_user(demo, "qs.lh.leader", memberships=[("township_leader", "青石镇"), ("township_staff", "柳河镇")])
    assert routing.qualifies_as_owner(case, both) and both not in routing.owner_candidates(case)
    with pytest.raises(ValidationFailed) as refused:
        routing.assign_owner(case, actor=demo.actor("center.li"), owner_leader=both)
    assert "被检举单位" in refused.value.errors["owner_leader_id"][0] and case.owner_leader_user_id is None
    routing.assign_owner(case, actor=demo.actor("center.li"), owner_leader=demo.user("qs.leader"))
    assert case.owner_leader_user_id == demo.user("qs.leader").id


def test_only_triage_users_covering_the_case_assign_or_regrade(db, demo):
    case = make_case(demo)
    for who in ("qs01.cadre", "qs.leader", "qs01.g1", "cg.staff"):
        with pytest.raises(PermissionDenied):
            routing.assign_owner(case, actor=demo.actor(who), assignee=demo.user("qs01.cadre"))
        with pytest.raises(PermissionDenied):
            routing.regrade(case, "red", actor=demo.actor(who), reason="测试")
    routing.assign_owner(case, actor=demo.actor("qs01.head"), assignee=demo.user("qs01.cadre"))


def test_regrading_is_recorded_and_releases_an_owner_of_the_wrong_level(db, demo):
    case = make_case(demo, colour="orange")
    routing.assign_owner(case, actor=demo.actor("qs.staff"), owner_leader=demo.user("qs.leader2"))
    event = routing.regrade(case, "red", actor=demo.actor("qs.staff"), reason="二十余人聚集，可能激化")
    assert case.risk_colour == RiskColour.red and event.action == "regrade"
    assert event.note.startswith("升级：橙 → 红") and "可能激化" in event.note
    # 政法委员 is not the party secretary: a red case needs a new owner leader
    assert case.owner_leader_user_id is None and "owner_leader_user_id" in event.changed_fields
    down = routing.regrade(case, "yellow", actor=demo.actor("qs.staff"), reason="已达成初步共识")
    assert down.note.startswith("降级：红 → 黄")
    with pytest.raises(ValidationFailed) as same:
        routing.regrade(case, "yellow", actor=demo.actor("qs.staff"), reason="再次调整")
    assert "risk_colour" in same.value.errors
    with pytest.raises(ValidationFailed) as no_reason:
        routing.regrade(case, "blue", actor=demo.actor("qs.staff"), reason="  ")
    assert "reason" in no_reason.value.errors
    with pytest.raises(ValidationFailed):
        routing.regrade(case, "purple", actor=demo.actor("qs.staff"), reason="无效颜色")
    actions = db.session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)).all()
    assert actions.count("regrade") == 2
    audits = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(case.id))).all()
    assert audits.count("case.regrade") == 2 and "case.assign_owner" in audits


def test_the_owner_leader_and_assignee_are_notified(db, demo):
    from notify.models import Notification

    case = make_case(demo, colour="orange")
    routing.assign_owner(case, actor=demo.actor("qs.staff"), owner_leader=demo.user("qs.leader"),
                         assignee=demo.user("qs01.cadre"))
    sent = db.session.scalars(select(Notification).where(Notification.event == "case.owner_assigned")).all()
    assert {n.user_id for n in sent} == {demo.user("qs.leader").id, demo.user("qs01.cadre").id}
    assert all(case.number in n.payload["title"] for n in sent)
