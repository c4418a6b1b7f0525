"""Triage (分流) and routing through HTTP: every transition form of the case page, refusals with 422 (not
allowed now) or 403 (not this user's to do) or 404 (outside jurisdiction) that change nothing, and the owner
leader / assignee / risk colour forms."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from center.cases.lifecycle import operations as lifecycle
from center.cases.models import Case, CaseEvent, CaseStatus
from core.audit.models import AuditEntry
from tests.conftest import csrf_from
from tests.factories import case_maker

# A yellow petition a 青石镇 clerk registered at 青石镇, committed (the pages read it).
make_case = case_maker(kind="petition", origin="青石镇", summary="分流测试事项", applicant="分流测试人",
                       repeat_of=None, commit=True)


def page_token(client, case):
    page = client.get(f"/cases/{case.number}")
    assert page.status_code == 200
    return page.get_data(as_text=True), csrf_from(page.get_data(as_text=True))


def snapshot(db, case):
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    return (fresh.status, fresh.handling_unit_id, fresh.risk_colour, fresh.owner_leader_user_id,
            fresh.assignee_user_id, db.session.scalar(select(func.count()).select_from(CaseEvent)),
            db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("case.%"))))


def act(client, token, case, action, **data):
    return client.post(f"/cases/{case.number}/transitions/{action}", data={**data, "csrf_token": token})


def status_of(db, case):
    db.session.expire_all()
    return db.session.get(Case, case.id).status


def test_the_panel_offers_what_the_state_and_the_user_allow(db, demo, signed_in):
    case = make_case(demo)
    html, _ = page_token(signed_in("qs.staff"), case)
    for label in ("受理", "不予受理", "上报", "导入法定程序"):
        assert f">{label}</button>" in html, label
    # a township petition has no unit below that may take it (villages never handle petitions): no 交办 form
    assert ">交办</button>" not in html
    dispute_html, _ = page_token(signed_in("qs.staff"), make_case(demo, kind="dispute"))
    assert ">交办</button>" in dispute_html
    assert "/transitions/evaluate" not in html and "/transitions/terminate" not in html
    assert "包案与承办" in html and "调整风险等级" in html
    leader_html, _ = page_token(signed_in("qs.leader"), case)  # reads the case, does not triage it
    assert "/transitions/" not in leader_html and "/owner" not in leader_html and "包案与承办" in leader_html


def test_accept_start_answer_and_a_refused_close_say_what_is_missing(db, demo, signed_in):
    case = make_case(demo)
    client = signed_in("qs.staff")
    _, token = page_token(client, case)
    assert act(client, token, case, "accept", remark="符合受理条件").status_code == 302
    assert act(client, token, case, "start").status_code == 302
    before = snapshot(db, case)
    refused = act(client, token, case, "answer")  # 答复 is the approved answer document, not a status
    assert refused.status_code == 422 and "缺少本办理机关经领导审批印发的答复意见书" in refused.get_data(as_text=True)
    assert snapshot(db, case) == before
    from center.cases.documents import operations as documents
    from center.cases.documents.texts import ANSWER_PLACEHOLDER

    db.session.expire_all()
    case = db.session.get(Case, case.id)
    doc = documents.draft_document(case, "answer", actor=demo.actor("qs.staff"))
    documents.edit_document(doc, actor=demo.actor("qs.staff"), title=doc.title, doc_no=doc.doc_no,
                            body=doc.body.replace(ANSWER_PLACEHOLDER, "经核实，已依法处理。"))
    documents.approve_document(doc, actor=demo.actor("qs.leader"))
    db.session.commit()
    assert act(client, token, case, "answer").status_code == 302
    assert status_of(db, case) == CaseStatus.answered
    leader = signed_in("qs.leader")
    html, leader_token = page_token(leader, case)
    assert "办结前还需" in html
    before = snapshot(db, case)
    refused = act(leader, leader_token, case, "close")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "不能办结" in text and "未执行" in text
    assert snapshot(db, case) == before


def test_not_accept_needs_a_reason(db, demo, signed_in):
    case = make_case(demo)
    client = signed_in("qs.staff")
    _, token = page_token(client, case)
    before = snapshot(db, case)
    refused = act(client, token, case, "not_accept")
    assert refused.status_code == 422 and "请填写不予受理的理由" in refused.get_data(as_text=True)
    assert snapshot(db, case) == before
    assert act(client, token, case, "not_accept", remark="已经司法程序处理").status_code == 302
    assert status_of(db, case) == CaseStatus.not_accepted
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "not_accept"))
    assert event.note == "已经司法程序处理"


def test_hand_down_a_dispute_to_a_village_but_never_a_petition(db, demo, signed_in):
    client = signed_in("qs.staff")
    dispute = make_case(demo, kind="dispute")
    html, token = page_token(client, dispute)
    village = demo.unit("青石村")
    assert f'<option value="{village.id}"' in html
    assert act(client, token, dispute, "hand_down", unit_id=str(village.id)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, dispute.id).handling_unit_id == village.id
    petition = make_case(demo)
    before = snapshot(db, petition)
    html, token = page_token(client, petition)
    assert 'id="f-hand_down-unit"' not in html  # nothing below may take a township petition: no form offered
    refused = act(client, token, petition, "hand_down", unit_id=str(village.id))
    assert refused.status_code == 422 and "信访事项不能交办到村" in refused.get_data(as_text=True)
    assert act(client, token, petition, "hand_down").status_code == 422  # no unit chosen
    assert act(client, token, petition, "hand_down", unit_id="2147483648").status_code == 422
    assert act(client, token, petition, "hand_down", unit_id=str(demo.unit("城关街道").id)).status_code == 422
    assert snapshot(db, petition) == before


def test_escalate_goes_to_the_parent_by_default(db, demo, signed_in):
    case = make_case(demo, kind="dispute", origin="青石村")
    client = signed_in("qs01.cadre")
    _, token = page_token(client, case)
    assert act(client, token, case, "escalate", remark="村里调解不成").status_code == 302
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    assert fresh.status == CaseStatus.escalated and fresh.handling_unit.name == "青石镇"


def test_guide_to_legal_records_the_channel(db, demo, signed_in):
    case = make_case(demo)
    client = signed_in("qs.staff")
    _, token = page_token(client, case)
    refused = act(client, token, case, "guide_to_legal", remark="已告知")
    assert refused.status_code == 422 and "请选择导入的法定途径" in refused.get_data(as_text=True)
    assert act(client, token, case, "guide_to_legal", legal_channel="arbitration", remark="已告知劳动仲裁途径") \
        .status_code == 302
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                      CaseEvent.action == "guide_to_legal"))
    assert event.note == "导入仲裁程序：已告知劳动仲裁途径"
    assert status_of(db, case) == CaseStatus.guided_to_legal


def test_refer_to_mediation_needs_both_consents(db, demo, signed_in):
    case = make_case(demo, respondent=True)
    client = signed_in("qs.staff")
    _, token = page_token(client, case)
    act(client, token, case, "accept")
    before = snapshot(db, case)
    refused = act(client, token, case, "refer_mediation", consent_applicant="1")
    assert refused.status_code == 422 and "双方当事人同意" in refused.get_data(as_text=True)
    assert snapshot(db, case) == before
    assert act(client, token, case, "refer_mediation", consent_applicant="1", consent_respondent="1") \
        .status_code == 302
    assert status_of(db, case) == CaseStatus.mediating


def test_mediate_and_reopen(db, demo, signed_in):
    case = make_case(demo, kind="dispute")
    client = signed_in("qs.staff")
    _, token = page_token(client, case)
    for action in ("accept", "mediate"):
        assert act(client, token, case, action).status_code == 302, action
    assert status_of(db, case) == CaseStatus.mediating
    closed = make_case(demo, kind="dispute")
    for action in ("accept", "start", "answer"):
        lifecycle.transition(closed, action, actor=demo.actor("qs.staff"))
    closed.status = CaseStatus.closed  # as if closed with its approved outcome (closing is tested elsewhere)
    db.session.commit()
    assert act(client, token, closed, "reopen", remark="当事人不满意").status_code == 302
    assert status_of(db, closed) == CaseStatus.reopened


def test_a_transition_the_state_does_not_allow_is_422_and_changes_nothing(db, demo, signed_in):
    case = make_case(demo)
    client = signed_in("qs.staff")
    _, token = page_token(client, case)
    before = snapshot(db, case)
    for action, message in (("start", "不能执行“开始办理”"), ("mediate", "没有“mediate”这一操作")):
        refused = act(client, token, case, action)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True), action
    assert snapshot(db, case) == before


@pytest.mark.parametrize("username", ["qs.leader", "qs01.g1", "leader.wang"])
def test_a_user_who_may_read_but_not_triage_gets_403(db, demo, signed_in, username):
    case = make_case(demo, kind="dispute", origin="青石村第1网格", by="qs01.g1")
    client = signed_in(username)
    _, token = page_token(client, case)
    before = snapshot(db, case)
    for action in ("accept", "not_accept", "hand_down", "escalate"):
        assert act(client, token, case, action, remark="越权").status_code == 403, action
    assert client.post(f"/cases/{case.number}/owner", data={"csrf_token": token,
                                                            "assignee_id": str(demo.user(username).id)}) \
        .status_code == 403
    assert client.post(f"/cases/{case.number}/regrade", data={"csrf_token": token, "new_colour": "red",
                                                               "regrade_reason": "越权"}).status_code == 403
    assert snapshot(db, case) == before


def test_a_case_outside_jurisdiction_is_404(db, demo, signed_in):
    case = make_case(demo)
    client = signed_in("cg.staff")
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    before = snapshot(db, case)
    assert act(client, token, case, "accept").status_code == 404
    assert client.post(f"/cases/{case.number}/owner", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/cases/{case.number}/regrade", data={"csrf_token": token}).status_code == 404
    own = signed_in("qs.staff")
    _, own_token = page_token(own, case)
    for action in ("evaluate", "terminate", "fly"):  # not transitions of this page
        assert act(own, own_token, case, action).status_code == 404
    assert snapshot(db, case) == before


def test_owner_leader_assignee_and_regrade_through_the_page(db, demo, signed_in):
    case = make_case(demo, colour="orange")
    client = signed_in("qs.staff")
    html, token = page_token(client, case)
    assert "乡镇领导（青石镇）" in html and "尚未指定" in html
    before = snapshot(db, case)
    wrong = client.post(f"/cases/{case.number}/owner", data={"csrf_token": token,
                                                             "owner_leader_id": str(demo.user("qs01.head").id)})
    assert wrong.status_code == 422 and "橙色事项的包案领导须为" in wrong.get_data(as_text=True)
    assert snapshot(db, case) == before
    ok = client.post(f"/cases/{case.number}/owner", data={"csrf_token": token,
                                                          "owner_leader_id": str(demo.user("qs.leader").id),
                                                          "assignee_id": str(demo.user("qs.staff").id)})
    assert ok.status_code == 302
    regraded = client.post(f"/cases/{case.number}/regrade", data={"csrf_token": token, "new_colour": "blue",
                                                                  "regrade_reason": "双方已和解"})
    assert regraded.status_code == 302
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    assert fresh.risk_colour == "blue" and fresh.owner_leader_user_id is None  # 蓝: no owner leader
    assert fresh.assignee_user_id == demo.user("qs.staff").id
    html, _ = page_token(client, case)
    assert "调整风险等级" in html and "降级：橙 → 蓝" in html and "指定包案领导/承办人" in html
