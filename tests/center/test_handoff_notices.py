"""Issue #10 (1, 2): no dead ends, and every hand-off tells the receiving side.

- a table over (交办, 上报, 转送, 派单, 随驻召集, registration at another unit) × who is told: the receiving side's
  staff and leaders (a department's liaisons and head) yes, the sender no, an unrelated user no;
- a hand-down to a unit where nobody holds the staff post, or a dispatch to a department with nobody in post,
  is refused naming the missing post, changes nothing, and is not offered;
- a summons names where to arrive: the center of the handling organ's tier.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from center.cases.lifecycle.operations import transition
from center.cases.models import Case, CaseEvent
from center.cases.routing import notices as handoff_notices
from center.cases.routing import units
from center.departments import operations
from center.departments.models import CaseAssignment
from core.actor import Actor
from core.audit.operations import record
from core.db import utcnow
from core.errors import ValidationFailed
from notify.models import Notification
from tests.factories import case_maker, make_case

HANDOFF_EVENTS = ("case.handed_down", "case.escalated", "case.transferred", "case.dispatched", "case.summoned",
                  "case.registered_elsewhere")


# file(demo, who, origin[, kind]): a case registered by ``who`` at ``origin``.
file = case_maker(summary="交接通知测试：邻里排水纠纷", applicant="交接测试人")


def told(db, case: Case) -> dict[str, set[int]]:
    """Hand-off notices about ``case``: event → user ids."""
    out: dict[str, set[int]] = {}
    for n in db.session.scalars(select(Notification).where(Notification.event.in_(HANDOFF_EVENTS))):
        if n.payload.get("number") == case.number:
            out.setdefault(n.event, set()).add(n.user_id)
            assert n.payload["url"] == f"/cases/{case.number}" and case.number in n.payload["title"] + n.payload["body"]
    return out


def _hand_down(demo):
    case = file(demo, "qs.staff", "青石镇")
    transition(case, "hand_down", actor=demo.actor("qs.staff"), unit=demo.unit("青石村"))
    return case


def _escalate(demo):
    case = file(demo, "qs.staff", "青石镇")
    transition(case, "escalate", actor=demo.actor("qs.staff"))
    return case


def _transfer(demo):
    """转送 (center.cases.lifecycle.operations._notify_organ): the competent department's liaisons and head."""
    case = file(demo, "center.li", "示范区", kind="petition")
    transition(case, "transfer", actor=demo.actor("center.li"), department=demo.department("区信访局"))
    return case


def _dispatch(demo):
    case = file(demo, "qs.staff", "青石镇")
    operations.dispatch(case, demo.department("区司法局"), actor=demo.actor("qs.staff"), task="指导调解")
    return case


def _summons(demo):
    case = file(demo, "qs.staff", "青石镇")
    operations.dispatch(case, demo.department("区民政局"), actor=demo.actor("qs.staff"), task="到场了解困难",
                        arrive_by=utcnow() + timedelta(hours=3))
    return case


def _registered_by_grid_worker(demo):
    return file(demo, "qs01.g1", "青石村第1网格")  # handled by 青石村, not the worker's grid


def _registered_by_township_for_village(demo):
    return file(demo, "qs.staff", "青石村")  # the township clerk files a village's dispute


# (name, action, event, receivers, sender, unrelated)
TABLE = [
    ("hand_down", _hand_down, "case.handed_down", {"qs01.cadre", "qs01.head"}, "qs.staff",
     {"qs.leader", "qs02.cadre", "center.li", "qs01.g1"}),
    ("escalate", _escalate, "case.escalated", {"center.li", "center.chen", "leader.wang", "leader.zhao"},
     "qs.staff", {"qs.leader", "cg.staff", "xinfang.liaison"}),
    ("transfer", _transfer, "case.transferred", {"xinfang.head", "xinfang.liaison"}, "center.li",
     {"center.chen", "sifa.liaison", "qs.staff"}),
    ("dispatch", _dispatch, "case.dispatched", {"sifa.head", "sifa.liaison"}, "qs.staff",
     {"xinfang.liaison", "center.li", "qs.leader"}),
    ("summons", _summons, "case.summoned", {"minzheng.liaison"}, "qs.staff",
     {"sifa.liaison", "center.li", "qs.leader"}),
    ("registered_grid", _registered_by_grid_worker, "case.registered_elsewhere", {"qs01.cadre", "qs01.head"},
     "qs01.g1", {"qs01.g2", "qs.staff", "qs02.cadre"}),
    ("registered_township", _registered_by_township_for_village, "case.registered_elsewhere",
     {"qs01.cadre", "qs01.head"}, "qs.staff", {"qs.leader", "qs02.head", "center.li"}),
]


@pytest.mark.parametrize(("name", "action", "event", "receivers", "sender", "unrelated"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_each_handoff_tells_the_receiving_side_only(db, demo, name, action, event, receivers, sender, unrelated):
    case = action(demo)
    db.session.flush()
    notices = told(db, case)
    ids = notices.get(event, set())
    assert ids == {demo.user(u).id for u in receivers}, name
    everyone = set().union(*notices.values()) if notices else set()
    assert demo.user(sender).id not in everyone
    assert not everyone & {demo.user(u).id for u in unrelated}


def test_a_listener_run_twice_tells_each_user_once(db, demo):
    case = _hand_down(demo)
    [event] = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "hand_down"))
    count = select(func.count()).select_from(Notification).where(Notification.event == "case.handed_down")
    before = db.session.scalar(count)
    handoff_notices.on_transition(case, event, demo.actor("qs.staff"))
    assert db.session.scalar(count) == before
    assert len(told(db, case)["case.handed_down"]) == 2


def test_a_case_filed_at_ones_own_unit_tells_nobody(db, demo):
    case = file(demo, "qs.staff", "青石镇")
    assert told(db, case) == {}


def test_a_case_the_system_files_is_told_to_the_handling_unit(db, demo):
    """An import job or the CLI has no unit of its own: what it files would otherwise sit where nobody looks."""
    case = make_case(demo, Actor.system("job"), "青石镇", summary="系统导入测试：排水纠纷", applicant="导入测试人")
    told_users = told(db, case)["case.registered_elsewhere"]
    assert {demo.user(u).id for u in ("qs.staff", "qs.leader")} <= told_users
    assert not told_users & {demo.user(u).id for u in ("cg.staff", "center.li", "qs01.cadre")}


def test_a_grid_agent_filing_is_told_once_by_the_village_module(db, demo):
    """代办 on the phone: village.operations tells the desk ("case.agent_filed"); no second notice from here."""
    case = make_case(demo, "qs01.g1", "青石村第1网格", summary="代办测试", channel="grid_agent", applicant="代办测试人")
    assert case.handling_unit.name == "青石村" and told(db, case) == {}


def test_an_accusation_is_not_told_to_the_accused_unit(db, demo):
    """A 检举控告 case against 青石村, escalated from the township: the district hears, nothing leaks down."""
    case = make_case(demo, "qs.staff", "青石镇", "petition", petition_class="accusation", summary="检举村干部侵占补偿款",
                     accused="青石村", applicant="检举人")
    transition(case, "escalate", actor=demo.actor("qs.staff"))
    ids = set().union(*told(db, case).values())
    assert demo.user("center.li").id in ids
    assert not ids & {demo.user("qs01.cadre").id, demo.user("qs01.head").id}


# --- no dead ends ------------------------------------------------------------------------------------------

def _deactivate(db, demo, username: str) -> None:
    user = demo.user(username)
    user.is_active = False
    db.session.flush()
    record(Actor.system("cli"), "test.user_deactivated", user, changed=["is_active"])
    db.session.flush()


def test_hand_down_to_a_village_without_cadres_is_refused_and_not_offered(db, demo):
    case = file(demo, "qs.staff", "青石镇")
    before = (case.status, case.handling_unit_id)
    empty = demo.unit("下坝村")  # no village head or cadre in the demo
    assert units.hand_down_refusal(case, empty) == "下坝村没有在岗的村(社区)干部，无法交办"
    assert empty.id not in {u.id for u in units.hand_down_targets(case)}
    assert demo.unit("青石村").id in {u.id for u in units.hand_down_targets(case)}
    with pytest.raises(ValidationFailed) as refused:
        transition(case, "hand_down", actor=demo.actor("qs.staff"), unit=empty)
    assert refused.value.errors == {"unit_id": ["下坝村没有在岗的村(社区)干部，无法交办"]}
    db.session.expire_all()
    assert (case.status, case.handling_unit_id) == before
    assert not db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                          CaseEvent.action == "hand_down")).all()
    assert told(db, case) == {}


def test_a_village_head_alone_is_no_cadre(db, demo):
    """The staff post is what a hand-down needs: with its cadre gone, 青石村 is refused though its head remains."""
    case = file(demo, "qs.staff", "青石镇")
    _deactivate(db, demo, "qs01.cadre")
    assert units.hand_down_refusal(case, demo.unit("青石村")) == "青石村没有在岗的村(社区)干部，无法交办"


def test_hand_down_to_a_township_without_staff_is_refused(db, demo):
    case = file(demo, "center.li", "示范区", kind="petition")
    _deactivate(db, demo, "qs.staff")
    _deactivate(db, demo, "qs.center")
    assert units.hand_down_refusal(case, demo.unit("青石镇")) == "青石镇没有在岗的乡镇工作人员，无法交办"
    assert demo.unit("青石镇").id not in {u.id for u in units.hand_down_targets(case)}
    assert demo.unit("城关街道").id in {u.id for u in units.hand_down_targets(case)}


def test_escalation_to_a_township_without_staff_is_refused_and_not_offered(db, demo):
    """上报 is a hand-off too: a village's dispute never goes up to a township where nobody works cases."""
    case = file(demo, "qs01.cadre", "青石村")
    assert demo.unit("青石镇").id in {u.id for u in units.escalation_targets(case)}
    _deactivate(db, demo, "qs.staff")
    _deactivate(db, demo, "qs.center")
    assert demo.unit("青石镇").id not in {u.id for u in units.escalation_targets(case)}
    before = (case.status, case.handling_unit_id)
    with pytest.raises(ValidationFailed) as refused:
        transition(case, "escalate", actor=demo.actor("qs01.cadre"))
    assert refused.value.errors == {"unit_id": ["青石镇没有在岗的乡镇工作人员，无法上报"]}
    db.session.expire_all()
    assert (case.status, case.handling_unit_id) == before
    assert told(db, case) == {}


@pytest.mark.parametrize(("department", "arrive"), [("区总工会", True), ("青石镇司法所", False)])
def test_dispatch_to_a_department_without_users_is_refused_and_not_offered(db, demo, department, arrive):
    case = file(demo, "qs.staff", "青石镇")
    dept = demo.department(department)
    assert dept.id not in {d.id for d in operations.allowed_departments(case)}
    assert demo.department("区司法局").id in {d.id for d in operations.allowed_departments(case)}
    with pytest.raises(ValidationFailed) as refused:
        operations.dispatch(case, dept, actor=demo.actor("qs.staff"), task="参与调处",
                            arrive_by=utcnow() + timedelta(hours=2) if arrive else None)
    assert refused.value.errors == {"department_id": [f"{department}没有在岗的联络员或负责人，无法派单"]}
    assert db.session.scalar(select(func.count()).select_from(CaseAssignment)
                             .where(CaseAssignment.case_id == case.id)) == 0
    assert told(db, case) == {}


def test_dispatch_is_refused_once_the_last_liaison_leaves(db, demo):
    case = file(demo, "qs.staff", "青石镇")
    _deactivate(db, demo, "minzheng.liaison")
    with pytest.raises(ValidationFailed) as refused:
        operations.dispatch(case, demo.department("区民政局"), actor=demo.actor("qs.staff"), task="到场",
                            arrive_by=utcnow() + timedelta(hours=2))
    assert refused.value.errors == {"department_id": ["区民政局没有在岗的联络员或负责人，无法派单"]}


# --- where a summons arrives ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "origin", "place"), [
    ("center.li", "示范区", "示范区社会矛盾纠纷调处化解中心"),
    ("qs.staff", "青石镇", "青石镇矛盾纠纷调处化解中心"),
    ("qs01.head", "青石村", "青石镇矛盾纠纷调处化解中心"),  # a village's case: its township's center
])
def test_a_summons_names_the_center_of_the_handling_tier(db, demo, who, origin, place):
    case = file(demo, who, origin)
    assert operations.arrival_place(case) == place
    a = operations.dispatch(case, demo.department("区民政局"), actor=demo.actor(who), task="到场了解情况",
                            arrive_by=utcnow() + timedelta(hours=3))
    [event] = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "summons"))
    assert f"到达{place}" in event.note
    [notice] = db.session.scalars(select(Notification).where(Notification.event == "case.summoned",
                                                             Notification.idempotency_key.startswith(
                                                                 f"case-assignment:{a.id}:")))
    assert f"到达{place}" in notice.payload["body"]
    other = {"示范区社会矛盾纠纷调处化解中心", "青石镇矛盾纠纷调处化解中心"} - {place}
    assert not any(o in notice.payload["body"] for o in other)
