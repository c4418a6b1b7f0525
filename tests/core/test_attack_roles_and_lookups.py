"""Attacker tests, session 5: permissions registered by features (no role gained a decision), ``get_or_404``
behind every scoped lookup, the grid worker's repeat candidates and her WeChat commands.

Each test is an attack that must fail; a failing test is a hole (its docstring gives the reproduction)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.core.attack5_support import _bearer, _own_token, _valid_id
from tests.factories import make_case, make_unit, make_user

# --- 2. permissions registered by features: no role gained a decision ---------------------------------------

#: the body each API transition needs to get past the loader (its own rules then refuse or allow it)
def _transition_body(demo, action: str) -> dict:
    body = {"action": action}
    if action == "hand_down":
        body["unit_id"] = demo.unit("青石村").id
    elif action == "transfer":
        body["department_id"] = demo.department("青石镇司法所").id
    elif action == "guide_to_legal":
        body["legal_channel"] = "litigation"
    elif action == "refer_mediation":
        body["consent"] = ["applicant", "respondent"]
    elif action in ("not_accept", "return"):
        body["note"] = "越权操作测试"
    return body


TRIAGE_AND_APPROVE = ("accept", "not_accept", "hand_down", "transfer", "return", "refer_mediation", "reopen",
                      "guide_to_legal", "close", "terminate")


def _press_every_transition(app, demo, db, case, username: str, actions, expected=(403,)):
    from center.cases.lifecycle.operations import transition_for
    from center.cases.models import Case

    client = app.test_client()
    headers = _bearer(_own_token(demo, username))
    before = (case.status, case.handling_unit_id, case.handling_department_id)
    for action in actions:
        if transition_for(case.kind, action) is None:
            continue
        response = client.post(f"/api/v1/cases/{case.number}/transitions", json=_transition_body(demo, action),
                               headers=headers)
        assert response.status_code in expected, (username, action, response.status_code,
                                                  response.get_data(as_text=True)[:300])
        db.session.expire_all()
        fresh = db.session.get(Case, case.id)
        assert (fresh.status, fresh.handling_unit_id, fresh.handling_department_id) == before, (username, action)


def test_grid_worker_and_village_cadre_gain_no_case_decision(app, db, demo):
    """A dispute the grid worker filed in her grid, handled by 青石村: she (origin, filer) decides nothing; the
    village cadre (handling side, works the case) neither triages nor approves; a grid worker of another village
    does not even find it."""
    from center.cases.lifecycle.operations import ACTIONS

    case = make_case(demo, "qs01.g1", "青石村第1网格", summary="越权测试：排水沟纠纷", repeat_of=None, commit=True)
    assert case.handling_unit.name == "青石村"
    _press_every_transition(app, demo, db, case, "qs01.g1", sorted(ACTIONS - {"evaluate"}))
    _press_every_transition(app, demo, db, case, "qs01.cadre", TRIAGE_AND_APPROVE)
    _press_every_transition(app, demo, db, case, "qs02.g1", sorted(ACTIONS), expected=(404,))
    # the village head (the handling organ's staff) can: the presses above were refused for the role, not the case
    ok = app.test_client().post(f"/api/v1/cases/{case.number}/transitions", json={"action": "accept"},
                                headers=_bearer(_own_token(demo, "qs01.head")))
    assert ok.status_code == 200, ok.get_data(as_text=True)[:300]


def test_a_dispatched_department_liaison_only_gives_feedback(app, db, demo):
    from center.cases.lifecycle.operations import ACTIONS
    from center.departments.operations import dispatch

    case = make_case(demo, "qs.staff", "青石镇", kind="petition", summary="越权测试：部门协办", repeat_of=None,
                     then=("accept",))
    dispatch(case, demo.department("区信访局"), actor=demo.actor("qs.staff"), task="协助核实")
    db.session.commit()
    assert app.test_client().get(f"/api/v1/cases/{case.number}",
                                 headers=_bearer(_own_token(demo, "xinfang.liaison"))).status_code == 200
    _press_every_transition(app, demo, db, case, "xinfang.liaison", sorted(ACTIONS))
    _press_every_transition(app, demo, db, case, "xinfang.head", sorted(ACTIONS))


@pytest.mark.parametrize("username", ["admin", "secadmin", "auditor"])
def test_the_three_administrators_neither_read_nor_decide_cases(app, db, demo, signed_in, username):
    """三权分立: the system administrator, the security administrator and the auditor hold no case right — no
    list, no search, no case, no transition, over the API or the pages."""
    from center.cases.lifecycle.operations import ACTIONS
    from core.auth.permissions import can

    case = make_case(demo, "qs.staff", "青石镇", summary="三员测试事项", repeat_of=None, commit=True)
    client = app.test_client()
    headers = _bearer(_own_token(demo, username))
    assert client.get("/api/v1/cases", headers=headers).status_code == 403
    assert client.post("/api/v1/cases/search", json={"q": "三员测试"}, headers=headers).status_code == 403
    assert client.get(f"/api/v1/cases/{case.number}", headers=headers).status_code in (403, 404)
    for action in sorted(ACTIONS):
        response = client.post(f"/api/v1/cases/{case.number}/transitions", json=_transition_body(demo, action),
                               headers=headers)
        assert response.status_code in (403, 404), (username, action)
    actor = demo.actor(username)
    for name in ("case.read", "case.intake", "case.reveal", "case.export", "case.triage", "case.handle",
                 "case.approve", "case.assign", "case.supervise", "case.note", "case.review_decide"):
        assert not can(actor, name, case), (username, name)
    page = signed_in(username)
    assert page.get(f"/cases/{case.number}").status_code in (403, 404)
    assert page.get("/cases/").status_code in (302, 403)
    token = csrf_token(page)
    assert page.post(f"/cases/{case.number}/transitions/accept", data={"csrf_token": token}).status_code in (403, 404)
    db.session.expire_all()
    assert case.status.value == "registered"


# --- 3. get_or_404 behind every scoped lookup ----------------------------------------------------------------


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def _attach(demo, case, by: str):
    from center.cases.attachments.operations import check_files, upload

    [row] = upload(case, check_files([("现场.png", _png())], images_only=True), actor=demo.actor(by),
                   purpose="photo")
    return row


def test_another_cases_attachment_party_or_assignment_under_a_visible_case_is_not_found(app, db, demo, signed_in):
    """/cases/<A>/attachments/<id of B's file>, /cases/<A>/parties/<B's party>/reveal and
    /cases/<A>/assignments/<B's assignment>/complete, for B visible (same township) and B outside (柳河镇)."""
    from center.cases.models import Party
    from center.departments.models import CaseAssignment
    from center.departments.operations import dispatch
    from tests.core.attack_support import Watch, post_form

    xinfang = demo.department("区信访局")
    mine = make_case(demo, "qs.staff", "青石镇", kind="petition", summary="附件甲", repeat_of=None, then=("accept",),
                     parties=[{"role": "applicant", "kind": "person", "name": "附件甲某", "phone": "13700000001"}])
    sibling = make_case(demo, "qs.staff", "青石镇", kind="petition", summary="附件乙", repeat_of=None, then=("accept",),
                        parties=[{"role": "applicant", "kind": "person", "name": "附件乙某", "phone": "13700000002"}])
    foreign = make_case(demo, "lh.staff", "柳河镇", kind="petition", summary="附件丙", repeat_of=None, then=("accept",),
                        parties=[{"role": "applicant", "kind": "person", "name": "附件丙某", "phone": "13700000003"}])
    files = {c.id: _attach(demo, c, by) for c, by in ((mine, "qs.staff"), (sibling, "qs.staff"), (foreign, "lh.staff"))}
    for c, by in ((mine, "qs.staff"), (sibling, "qs.staff"), (foreign, "lh.staff")):
        dispatch(c, xinfang, actor=demo.actor(by), task="协助核实")
    db.session.commit()
    parties = {c.id: db.session.scalar(select(Party.id).where(Party.case_id == c.id)) for c in (mine, sibling, foreign)}
    assignments = {c.id: db.session.scalar(select(CaseAssignment.id).where(CaseAssignment.case_id == c.id))
                   for c in (mine, sibling, foreign)}

    staff = signed_in("qs.staff")
    assert staff.get(f"/cases/{mine.number}/attachments/{files[mine.id].id}").status_code == 200
    watch = Watch(db)
    for other in (sibling, foreign):
        assert staff.get(f"/cases/{mine.number}/attachments/{files[other.id].id}").status_code == 404
        response = post_form(staff, f"/cases/{mine.number}/parties/{parties[other.id]}/reveal", {},
                             page=f"/cases/{mine.number}")
        assert response.status_code == 404
        assert staff.get(f"/cases/{mine.number}/parties/{parties[other.id]}/revealed").status_code == 404
    assert staff.get(f"/cases/{foreign.number}/attachments/{files[foreign.id].id}").status_code == 404
    for bad in ("0", "-1", "2147483648", "99999999999999999999", "abc", "1.0", "%20" + str(files[mine.id].id),
                "0x1", "1e1"):
        assert staff.get(f"/cases/{mine.number}/attachments/{bad}").status_code == 404, bad
        assert staff.post(f"/cases/{mine.number}/parties/{bad}/reveal").status_code in (400, 404), bad
    watch.assert_unchanged(refusal=None)

    liaison = signed_in("xinfang.liaison")
    watch = Watch(db)
    for other in (sibling, foreign):
        response = post_form(liaison, f"/cases/{mine.number}/assignments/{assignments[other.id]}/complete",
                             {"result": "越权反馈"}, page=f"/cases/{mine.number}")
        assert response.status_code == 404
    watch.assert_unchanged(refusal=None)
    ok = post_form(liaison, f"/cases/{mine.number}/assignments/{assignments[mine.id]}/complete",
                   {"result": "已核实"}, page=f"/cases/{mine.number}")
    assert ok.status_code == 302, ok.get_data(as_text=True)[:300]


def test_another_users_api_token_id_is_not_found(app, db, demo, signed_in):
    from core.accounts.models import ApiToken
    from tests.core.attack_support import Watch, post_form

    plain = _own_token(demo, "qs.staff")
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == demo.user("qs.staff").id))
    other = signed_in("cg.staff")
    watch = Watch(db)
    assert other.get(f"/account/api-tokens/{token_id}/issued").status_code == 404
    assert post_form(other, f"/account/api-tokens/{token_id}/revoke", {}, page="/account/api-tokens").status_code == 404
    for bad in ("0", "-1", "99999999999", "x"):
        assert post_form(other, f"/account/api-tokens/{bad}/revoke", {}, page="/account/api-tokens").status_code == 404
    watch.assert_unchanged(refusal=None)
    assert app.test_client().get("/api/v1/cases", headers=_bearer(plain)).status_code == 200


def test_units_users_and_notifications_of_another_district_are_not_found(app, db, demo, signed_in):
    """A second district in the same database (a city deployment): its system administrator finds nothing of
    示范区 by id — no unit, department, user, token, notification or delivery; a township leader finds no unit
    of another township, and a village cadre no unit above her village."""
    from core.accounts.models import ApiToken
    from notify.models import Delivery, Notification
    from tests.core.attack_support import Watch, post_form

    other_district = make_unit(demo, "邻区", kind="district", commit=True)
    make_user(demo, "other.admin", role="system_admin", place=other_district, commit=True)
    _own_token(demo, "qs.staff")
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == demo.user("qs.staff").id))
    notification_id = db.session.scalar(select(Notification.id).order_by(Notification.id).limit(1))
    delivery_id = db.session.scalar(select(Delivery.id).order_by(Delivery.id).limit(1))
    admin = signed_in("other.admin")
    qs = demo.unit("青石镇")
    dept = demo.department("区信访局")
    watch = Watch(db)
    for path in (f"/admin/org/{qs.id}", f"/admin/org/{qs.id}/edit", f"/admin/departments/{dept.id}/edit",
                 f"/admin/users/{demo.user('qs.staff').id}", f"/admin/api-tokens/{token_id}/issued"):
        assert admin.get(path).status_code in (403, 404), path
    for path in (f"/admin/org/{qs.id}/disable", f"/admin/departments/{dept.id}/disable",
                 f"/admin/users/{demo.user('qs.staff').id}/disable", f"/admin/api-tokens/{token_id}/revoke"):
        assert post_form(admin, path, {}, page="/account/password").status_code in (403, 404), path
    if notification_id is not None:
        assert admin.get(f"/admin/notify/notifications/{notification_id}").status_code in (403, 404)
    if delivery_id is not None:
        assert post_form(admin, f"/admin/notify/deliveries/{delivery_id}/requeue", {}).status_code in (403, 404)
    watch.assert_unchanged(refusal=None)
    assert admin.get(f"/admin/org/{other_district.id}").status_code == 200

    leader = signed_in("qs.leader")
    assert leader.get(f"/admin/org/{demo.unit('柳河镇').id}").status_code == 404
    assert leader.get(f"/admin/org/{qs.id}").status_code == 200
    cadre = signed_in("qs01.cadre")
    assert cadre.get(f"/admin/org/{qs.id}").status_code == 404
    assert cadre.get(f"/admin/org/{demo.unit('青石村').id}").status_code == 200


# --- 4. the grid worker's repeat candidates -------------------------------------------------------------------


def test_phone_repeat_candidates_show_only_cases_the_grid_worker_may_open(app, db, demo, login_as, client):
    """The same resident (same ID number) has earlier cases in the other grid of 青石村, in 柳河镇, and an
    accusation against 青石村 arising in her own grid: the 代办 page names only her own grid's case — never the
    others' numbers, summaries or status — and linking to one of them, or opening it, is refused."""
    from tests.village.test_mobile import filing, post_filing

    id_number = _valid_id("11010119660606066")
    resident = [{"role": "applicant", "kind": "person", "name": "王秀兰", "id_type": "resident_id",
                 "id_number": id_number, "phone": "13901011234"}]
    own = make_case(demo, "qs01.g1", "青石村第1网格", summary="本网格旧事：院墙外堆放建筑垃圾", parties=resident,
                    repeat_of="none", channel="grid_agent", commit=True)
    other_grid = make_case(demo, "qs01.g2", "青石村第2网格", summary="邻网格秘密：宅基地互换私下协议",
                           parties=resident, repeat_of="none", channel="grid_agent", commit=True)
    other_town = make_case(demo, "lh.staff", "柳河镇", summary="外镇秘密：劳务欠薪二十万", parties=resident,
                           repeat_of="none", commit=True)
    accusation = make_case(demo, "qs01.head", "青石村第1网格", kind="petition", petition_class="accusation",
                           accused="青石村", summary="举报秘密：村委会虚报低保名额", parties=resident,
                           repeat_of="none", commit=True)
    login_as("qs01.g1")
    asked = post_filing(client, filing(id_number=id_number))
    text = asked.get_data(as_text=True)
    assert asked.status_code == 422 and own.number in text
    for hidden in (other_grid, other_town, accusation):
        assert hidden.number not in text and hidden.summary not in text, hidden.summary
        assert client.get(f"/m/cases/{hidden.number}").status_code == 404
        linked = post_filing(client, filing(id_number=id_number, repeat_of=hidden.number))
        assert linked.status_code == 422 and hidden.summary not in linked.get_data(as_text=True)
    for word in ("宅基地互换", "劳务欠薪", "虚报低保"):
        assert word not in text


# --- 5. WeChat commands -------------------------------------------------------------------------------------


def test_a_bound_grid_worker_cannot_read_another_grids_or_an_accusations_case_by_number(live, fake_wechat):
    """qs01.g1's WeCom identity sends case numbers of 青石村第2网格's case and of an accusation against 青石村
    arising in her own grid: both answer exactly like an unknown number; 待办 lists neither; her own case answers."""
    from core.db import db as _db
    from core.db import write_intent
    from tests.village.test_commands import say

    app, _ = live
    with app.app_context(), write_intent():
        own = make_case(None, "qs01.g1", "青石村第1网格", summary="微信本网格：排水沟", repeat_of="none",
                        channel="grid_agent")
        other = make_case(None, "qs01.g2", "青石村第2网格", summary="微信邻网格：秘密纠纷", repeat_of="none",
                          channel="grid_agent")
        accusation = make_case(None, "qs01.head", "青石村第1网格", kind="petition", petition_class="accusation",
                               accused="青石村", summary="微信举报：村委会虚报低保", repeat_of="none")
        _db.session.commit()
        numbers = own.number, other.number, accusation.number
    own_number, other_number, accusation_number = numbers
    assert say(live, fake_wechat, own_number).startswith(own_number)
    for number in (other_number, accusation_number, other_number.lower(), f" {accusation_number} "):
        answer = say(live, fake_wechat, number)
        assert answer == f"没有找到事项 {number.strip().upper()}，或您无权查看。", answer
    todo = say(live, fake_wechat, "待办")
    assert other_number not in todo and accusation_number not in todo and "秘密" not in todo and "低保" not in todo
    # the other grid's worker sees hers: the refusal above is jurisdiction, not a broken command
    assert say(live, fake_wechat, other_number, sender="qs01.g2").startswith(other_number)


def test_a_wechat_message_with_control_characters_reaches_no_handler(live, fake_wechat, monkeypatch):
    from core.security import BAD_TEXT_MESSAGE
    from notify.wechat import callback
    from tests.village.test_commands import say

    reached = []
    original = callback.HANDLERS[("work", "text")]

    def spy(message, user):
        reached.append(message.get("Content"))
        return original(message, user)

    monkeypatch.setitem(callback.HANDLERS, ("work", "text"), spy)
    for text in ("待办\u0085", "\u009bSF-2026-000001", "待\u0080办"):
        answer = say(live, fake_wechat, text)
        assert answer == f"消息{BAD_TEXT_MESSAGE}", answer
    assert reached == []
    assert "件待办" in say(live, fake_wechat, "待办") and reached == ["待办"]
