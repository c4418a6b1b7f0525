"""Answer documents (DOMAIN.md §2 办结): drafted from a template with the case's facts, edited by the drafter
only, approved in a separate action by a leader of the answering organ who is not the drafter, served; the
close is refused until both, naming what is missing. Bad input changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from center.cases.documents import operations as documents
from center.cases.documents.texts import ANSWER_PLACEHOLDER, split_demands
from center.cases.lifecycle.operations import transition
from center.cases.models import (
    CaseDocument,
    CaseEvent,
    CaseStatus,
    DocumentKind,
    ServiceRecord,
)
from core.audit.models import AuditEntry
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import csrf_from
from tests.factories import make_case
from tests.specs.documents import ANSWERS, DEMANDS, T0, actor, answered_draft, working_petition

APPEAL = "如不服本处理意见，可自收到本处理意见之日起30日内向示范区人民政府申请复查。"


def counts(db, case) -> tuple[int, int, int]:
    def n(model):
        return db.session.scalar(select(func.count()).select_from(model).where(model.case_id == case.id))

    return n(CaseDocument), n(ServiceRecord), n(CaseEvent)


@pytest.mark.parametrize(("text", "items"), [
    ("1. 补发差额；2、公开标准\n（三）追究责任。", ["补发差额", "公开标准", "追究责任"]),
    ("请求依法依规处理并书面答复", ["请求依法依规处理并书面答复"]),
    ("一、退还押金。二、赔偿损失。", ["退还押金", "赔偿损失"]),
    ("  \n ；。", []),
    (None, []),
])
def test_demands_split_into_numbered_items(text, items):
    assert split_demands(text) == items


def test_draft_is_generated_from_the_case_facts(db, demo):
    case = working_petition(db)
    doc = documents.draft_document(case, "answer", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=10))
    assert (doc.kind, doc.organ_unit.name, doc.organ_department, doc.organ_name) == (
        DocumentKind.answer, "青石镇", None, "青石镇人民政府")
    assert doc.title == "信访事项处理意见书"
    assert doc.doc_no.startswith("青石信复〔2026〕第") and doc.doc_no.endswith("号")
    body = doc.body
    for fact in ("王建国：", "2026年3月2日", case.number, "反映征收补偿款未足额发放", "青石镇人民政府", "2026年3月12日"):
        assert fact in body, fact
    first, second, third = (body.index(f"{n}、关于“{d}”") for n, d in
                            zip("一二三", ("补发征收补偿款差额", "公开补偿标准", "追究相关人员责任"), strict=True))
    assert first < second < third < body.index(APPEAL)
    assert body.count("答复：" + ANSWER_PLACEHOLDER) == 3
    assert [e.action for e in case.events][-1] == "document_drafted"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.document_drafted",
                                                      AuditEntry.object_id == str(doc.id))) is not None
    assert not doc.is_approved and doc.drafter_user_id == demo.user("qs.staff").id


def test_not_accepted_notice_carries_the_reason(db, demo):
    case = make_case(db, "qs.staff", "青石镇", "petition", summary="要求重新分配二十年前的承包地",
                     category="土地/山林权属", applicant="李桂兰", at=T0, repeat_of=None)
    with pytest.raises(InvalidTransition):
        documents.draft_document(case, "not_accepted", actor=actor(db, "qs.staff"))
    transition(case, "not_accept", actor=actor(db, "qs.staff"), note="该事项已经人民法院生效判决处理",
               at=T0 + timedelta(days=2))
    doc = documents.draft_document(case, "not_accepted", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=2))
    assert doc.title == "不予受理告知书" and "该事项已经人民法院生效判决处理" in doc.body
    with pytest.raises(InvalidTransition):  # the procedure ended: no answer
        documents.draft_document(case, "answer", actor=actor(db, "qs.staff"))


def test_a_new_draft_supersedes_the_unapproved_one_only(db, demo):
    case = working_petition(db)
    first = answered_draft(db, case)
    documents.approve_document(first, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11))
    second = documents.draft_document(case, "answer", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=12))
    third = documents.draft_document(case, "answer", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=13))
    assert (first.superseded, second.superseded, third.superseded) == (False, True, False)
    with pytest.raises(InvalidTransition):
        documents.approve_document(second, actor=actor(db, "qs.leader"))


def test_the_whole_petition_path(db, demo):
    """accept → start → draft → drafter approves (403) → another township's / the district's leader (403) →
    the leader approves → close refused naming what is missing → serve → close."""
    case = working_petition(db, via_district=True)
    assert case.handling_unit.name == "青石镇" and case.origin_unit.name == "城关街道"
    doc = answered_draft(db, case)
    with pytest.raises(PermissionDenied) as drafter:
        documents.approve_document(doc, actor=actor(db, "qs.staff"))
    assert "起草人" in drafter.value.message
    for other in ("cg.leader", "leader.wang", "qs01.head"):
        with pytest.raises((PermissionDenied, NotFound)) as refused:
            documents.approve_document(doc, actor=actor(db, other))
        assert refused.type is PermissionDenied or other == "qs01.head", other  # cg.leader sees it (origin)
    assert not doc.is_approved
    with pytest.raises(InvalidTransition) as no_answer:
        transition(case, "answer", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=10, hours=1))
    assert "缺少本办理机关经领导审批印发的答复意见书" in no_answer.value.message and case.status == "in_progress"

    documents.approve_document(doc, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11))
    assert doc.approved_by_user_id == demo.user("qs.leader").id
    assert [e.action for e in case.events[-2:]] == ["document_approved", "deadline_met"]
    [answer_row] = [d for d in case.deadlines if d.rule == "answer"]
    assert (answer_row.met_at, answer_row.ended_by) == (T0 + timedelta(days=11), "answer_issued")
    transition(case, "answer", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=11, minutes=30))
    with pytest.raises(InvalidTransition):
        documents.approve_document(doc, actor=actor(db, "qs.leader2"))
    with pytest.raises(InvalidTransition) as no_service:
        transition(case, "close", actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11, hours=1))
    assert "送达记录" in no_service.value.message and case.status == CaseStatus.answered

    documents.record_service(doc, actor=actor(db, "qs.staff"), method="registered_mail",
                             served_on=date(2026, 3, 14), reference="EA123456789CN", recipient="王建国",
                             at=T0 + timedelta(days=13))
    assert case.events[-1].action == "document_served"
    transition(case, "close", actor=actor(db, "qs.leader"), at=T0 + timedelta(days=13, hours=1))
    assert case.status == CaseStatus.closed
    assert documents.review_window_ends(case) == date(2026, 4, 13)  # 30 days after 14 March, a Monday
    [window] = [d for d in case.deadlines if d.kind == "window"]
    assert (window.rule, window.started_on, window.due_on, window.met_at) == (
        "review_window", date(2026, 3, 14), date(2026, 4, 13), None)


def test_the_drafter_may_not_approve_even_as_the_organs_leader(db, demo):
    """A village head drafts the village's answer to a dispute: leader of the organ, but the drafter → 403."""
    case = make_case(db, "qs01.cadre", "青石村", summary="邻里因排水沟堵塞发生争执", category="邻里纠纷",
                     applicant="张秀英", demands="疏通排水沟", at=T0, repeat_of=None)
    doc = documents.draft_document(case, "answer", actor=actor(db, "qs01.head"), at=T0)
    assert doc.organ_name == "青石村村民委员会" and doc.title == "答复意见书" and "申请复查" not in doc.body
    doc.body = doc.body.replace(ANSWER_PLACEHOLDER, "已组织双方疏通排水沟。")
    with pytest.raises(PermissionDenied) as refused:
        documents.approve_document(doc, actor=actor(db, "qs01.head"))
    assert "起草人不能审批" in refused.value.message
    with pytest.raises(PermissionDenied):  # the township leader does not lead the village committee
        documents.approve_document(doc, actor=actor(db, "qs.leader"))


def test_approval_refuses_an_answer_that_does_not_answer(db, demo):
    case = working_petition(db)
    doc = documents.draft_document(case, "answer", actor=actor(db, "qs.staff"), at=T0 + timedelta(days=10))
    with pytest.raises(ValidationFailed) as open_demands:
        documents.approve_document(doc, actor=actor(db, "qs.leader"))
    assert "未填写答复" in open_demands.value.message
    documents.edit_document(doc, actor=actor(db, "qs.staff"), title=doc.title, doc_no=doc.doc_no,
                            body="\n".join(ANSWERS))
    with pytest.raises(ValidationFailed) as no_appeal:
        documents.approve_document(doc, actor=actor(db, "qs.leader"))
    assert "复查途径" in no_appeal.value.message and not doc.is_approved


def test_only_the_drafter_edits_and_only_before_approval(db, demo):
    case = working_petition(db)
    doc = answered_draft(db, case)
    with pytest.raises(PermissionDenied):
        documents.edit_document(doc, actor=actor(db, "qs.center"), title="改", doc_no=None, body="改")
    with pytest.raises(ValidationFailed) as empty:
        documents.edit_document(doc, actor=actor(db, "qs.staff"), title=" ", doc_no="x" * 65, body="")
    assert set(empty.value.errors) == {"title", "doc_no", "body"}
    documents.approve_document(doc, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11))
    before = doc.body
    with pytest.raises(ValidationFailed) as frozen:
        documents.edit_document(doc, actor=actor(db, "qs.staff"), title=doc.title, doc_no=doc.doc_no, body="改了")
    assert frozen.value.status == 422 and frozen.value.message == "已审批的文书不能修改"
    assert doc.body == before


@pytest.mark.parametrize(("method", "served_on", "reference", "field"), [
    ("registered_mail", date(2026, 3, 14), "", "reference"),           # mail without its number
    ("direct", date(2026, 3, 20), None, "served_on"),                  # after "today" (the recording time)
    ("direct", date(2026, 3, 11), None, "served_on"),                  # before the approval
    ("pigeon", date(2026, 3, 14), None, "method"),
    ("direct", "2026-03-14", None, "served_on"),                       # not a date
    ("direct", date(2026, 3, 14), "号" * 65, "reference"),
])
def test_bad_service_input_is_refused_and_changes_nothing(db, demo, method, served_on, reference, field):
    case = working_petition(db)
    doc = answered_draft(db, case)
    documents.approve_document(doc, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11))  # 13 March
    before = counts(db, case)
    with pytest.raises(ValidationFailed) as refused:
        documents.record_service(doc, actor=actor(db, "qs.staff"), method=method, served_on=served_on,
                                 reference=reference, at=T0 + timedelta(days=14))  # "today" is 16 March
    assert field in refused.value.errors and all(m for m in refused.value.errors[field])
    assert counts(db, case) == before


def test_service_needs_an_approved_document_and_a_handler(db, demo):
    case = working_petition(db)
    doc = answered_draft(db, case)
    with pytest.raises(InvalidTransition):
        documents.record_service(doc, actor=actor(db, "qs.staff"), method="direct", served_on=date(2026, 3, 12),
                                 at=T0 + timedelta(days=11))
    documents.approve_document(doc, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=11))
    with pytest.raises(PermissionDenied):
        documents.record_service(doc, actor=actor(db, "qs.leader"), method="direct", served_on=date(2026, 3, 13),
                                 at=T0 + timedelta(days=11))
    with pytest.raises(NotFound):
        documents.record_service(doc, actor=actor(db, "cg.staff"), method="direct", served_on=date(2026, 3, 13),
                                 at=T0 + timedelta(days=11))
    assert documents.review_window_ends(case) is None


def test_review_window_rolls_past_national_day(db, demo):
    from core.calendar import load_calendar

    case = working_petition(db, at=T0 + timedelta(days=150))
    doc = answered_draft(db, case, at=T0 + timedelta(days=160))
    documents.approve_document(doc, actor=actor(db, "qs.leader"), at=T0 + timedelta(days=180))  # 29 August
    documents.record_service(doc, actor=actor(db, "qs.staff"), method="direct", served_on=date(2026, 9, 1),
                             at=T0 + timedelta(days=190))
    ends = documents.review_window_ends(case)
    calendar = load_calendar()
    assert date(2026, 10, 1) + timedelta(days=6) < ends and calendar.is_working_day(ends)
    assert ends == calendar.add_calendar_days(date(2026, 9, 1), 30).date


def test_a_departments_answer_is_approved_by_its_head(db, demo):
    """转送 to the competent organ: 区信访局 accepts and answers in its own name; the district's leader (the
    handling unit keeps the scope) may not approve it, the department's head does."""
    from center.cases.lifecycle.operations import transition

    dept = demo.department("区信访局")
    case = make_case(db, "center.li", "示范区", "petition", summary="反映征收补偿款未足额发放", category="征地拆迁",
                     demands=DEMANDS, applicant="王建国", at=T0, repeat_of=None)
    transition(case, "transfer", actor=actor(db, "center.li"), department=dept, at=T0 + timedelta(hours=2))
    assert case.handling_department == dept and not [d for d in case.deadlines if d.rule == "transfer"
                                                     and d.met_at is None]
    with pytest.raises(PermissionDenied):
        transition(case, "accept", actor=actor(db, "center.li"), at=T0 + timedelta(days=1))
    transition(case, "accept", actor=actor(db, "xinfang.liaison"), at=T0 + timedelta(days=1))
    transition(case, "start", actor=actor(db, "xinfang.liaison"), at=T0 + timedelta(days=1, hours=1))
    doc = answered_draft(db, case, username="xinfang.liaison")
    assert (doc.organ_department, doc.organ_name) == (dept, "区信访局")
    assert APPEAL in doc.body  # one level up from a district department: the district government
    with pytest.raises(PermissionDenied) as district:
        documents.approve_document(doc, actor=actor(db, "leader.wang"))
    assert "区信访局的部门负责人" in district.value.message
    documents.approve_document(doc, actor=actor(db, "xinfang.head"), at=T0 + timedelta(days=11))
    assert doc.is_approved


# --- over HTTP -----------------------------------------------------------------------------------------------------

def _post(client, url, data=None):
    page = client.get("/account/password")
    return client.post(url, data={**(data or {}), "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_the_path_over_http(db, demo, signed_in):
    from center.cases.presenters import today_shanghai

    case = working_petition(db, via_district=True, at=T0)
    db.session.commit()
    staff, leader, other = signed_in("qs.staff"), signed_in("qs.leader"), signed_in("cg.leader")
    page = staff.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "文书与送达" in page and "起草答复意见书" in page
    drafted = _post(staff, f"/cases/{case.number}/documents/draft", {"kind": "answer"})
    assert drafted.status_code == 302
    doc = db.session.scalar(select(CaseDocument).where(CaseDocument.case_id == case.id))
    edit_url = f"/cases/{case.number}/documents/{doc.id}/edit"
    assert drafted.headers["Location"].endswith(edit_url)
    body = doc.body
    for text in ANSWERS:
        body = body.replace(ANSWER_PLACEHOLDER, text, 1)
    assert _post(staff, edit_url, {"title": doc.title, "doc_no": "青石信复〔2026〕第7号", "body": body}).status_code == 302
    assert ">审批<" in leader.get(f"/cases/{case.number}").get_data(as_text=True)
    refused = _post(other, f"/cases/{case.number}/documents/{doc.id}/approve")
    assert refused.status_code == 403 and "青石镇人民政府的负责人" in refused.get_data(as_text=True)
    assert _post(leader, f"/cases/{case.number}/documents/{doc.id}/approve").status_code == 302
    again = _post(staff, edit_url, {"title": "改", "body": "改"})
    assert again.status_code == 422 and "已审批的文书不能修改" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CaseDocument, doc.id).doc_no == "青石信复〔2026〕第7号"
    serve_url = f"/cases/{case.number}/documents/{doc.id}/serve"
    bad = _post(staff, serve_url, {"method": "registered_mail", "served_on": today_shanghai().isoformat()})
    assert bad.status_code == 422 and "邮件号" in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)
                             .where(ServiceRecord.document_id == doc.id)) == 0
    assert _post(staff, serve_url, {"method": "direct", "served_on": today_shanghai().isoformat(),
                                    "recipient": "王建国"}).status_code == 302
    case_page = staff.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "已送达" in case_page and "复查申请期限" in case_page


def test_the_drafter_approving_over_http_gets_a_clear_403(db, demo, signed_in):
    case = make_case(db, "qs01.cadre", "青石村", summary="邻里因排水沟堵塞发生争执", category="邻里纠纷",
                     applicant="张秀英", at=T0, repeat_of=None)
    doc = documents.draft_document(case, "answer", actor=actor(db, "qs01.head"))
    db.session.commit()
    head = signed_in("qs01.head")
    response = _post(head, f"/cases/{case.number}/documents/{doc.id}/approve")
    assert response.status_code == 403 and "起草人不能审批自己起草的文书" in response.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(CaseDocument, doc.id).is_approved


def test_someone_elses_document_id_is_not_found(db, demo, signed_in):
    mine, theirs = working_petition(db), working_petition(db, applicant="李桂兰")
    doc = answered_draft(db, theirs)
    db.session.commit()
    staff, stranger = signed_in("qs.staff"), signed_in("cg.staff")
    for suffix in ("edit", "serve", ""):
        assert staff.get(f"/cases/{mine.number}/documents/{doc.id}/{suffix}".rstrip("/")).status_code == 404
        assert stranger.get(f"/cases/{theirs.number}/documents/{doc.id}/{suffix}".rstrip("/")).status_code == 404
    assert staff.get(f"/cases/{theirs.number}/documents/{doc.id}/edit").status_code == 200
    assert _post(signed_in("cg.leader"), f"/cases/{theirs.number}/documents/{doc.id}/approve").status_code == 404
