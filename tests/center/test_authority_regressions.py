"""The four findings of issue 9, each a named regression test on the demo district (cases found by summary),
through the channels the finding named; each refusal changes nothing (status, handling unit and department,
events, deadlines and their met_at, assignments, documents, evaluations, reviews, audit rows other than the
denial: tests/center/authority_spec.py ``snapshot``).

Further findings met while writing the authority table follow, each named after the rule it checks.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.center import authority_spec as spec


def _demo_case(db, summary: str):
    from center.cases.models import Case

    case = db.session.scalar(select(Case).where(Case.summary == summary))
    assert case is not None, f"demo case {summary!r} missing"
    return case


def _refused(db, signed_in, case, username: str, *, form: tuple[str, dict] | None, api: dict | None,
             form_status: int, api_status: int) -> None:
    """Send the same step through the form and through the API as ``username``: both refused, nothing changed."""
    client, token = spec.sign_in(signed_in, username)
    before, denied = spec.snapshot(db, case.id), spec.denials(db)
    expected_denials = 0
    if form is not None:
        path, data = form
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == form_status, spec.messages(response.get_data(as_text=True))
        expected_denials += form_status == 403
    if api is not None:
        response = client.post(f"/api/v1/cases/{case.number}/transitions", json=api, headers={"X-CSRFToken": token})
        assert response.status_code == api_status, spec.messages(response.get_data(as_text=True))
        expected_denials += api_status == 403
    after = spec.snapshot(db, case.id)
    assert spec.changes(before, after) == [], spec.changes(before, after)
    assert spec.denials(db) - denied == expected_denials


# --- the four findings ------------------------------------------------------------------------------------------

def test_village_head_cannot_refuse_a_township_petition(app, db, demo, signed_in):
    """Finding 1: a village head could 不予受理 a petition the township handles (form and API)."""
    case = _demo_case(db, "反映村组道路硬化工程质量问题")
    assert case.kind == "petition" and case.status == "registered" and case.handling_unit.name == "青石镇"
    reason = "不属于本村职责"
    _refused(db, signed_in, case, "qs01.head",
             form=(f"/cases/{case.number}/transitions/not_accept", {"remark": reason}),
             api={"action": "not_accept", "note": reason}, form_status=403, api_status=403)
    # nor any other decision of the township's on it
    for action in ("accept", "hand_down", "guide_to_legal"):
        data = {"remark": "越权", "legal_channel": "litigation"} if action == "guide_to_legal" else {"remark": "越权"}
        _refused(db, signed_in, case, "qs01.head", form=(f"/cases/{case.number}/transitions/{action}", data),
                 api={"action": action, "note": "越权"}, form_status=403, api_status=403)
    db.session.expire_all()
    deadlines = {d.rule: d.met_at for d in case.deadlines}
    assert deadlines.get("transfer") is None and deadlines.get("notice") is None


def test_summoned_liaison_cannot_mark_a_petition_answered(app, db, demo, signed_in):
    """Finding 2: the on-call liaison summoned to assess relief could mark the red 35-person petition 已答复,
    which met its 60-day deadline with no answer document (form and API)."""
    case = _demo_case(db, "反映开发区企业破产职工安置问题（集体访）")
    assert case.status == "in_progress" and case.people_count == 35
    assert any(a.department.name == "区民政局" and a.status == "summoned" for a in case.assignments)
    answer = next(d for d in case.deadlines if d.rule == "answer")
    assert answer.met_at is None
    _refused(db, signed_in, case, "minzheng.liaison",
             form=(f"/cases/{case.number}/transitions/answer", {"remark": "已评估救助条件"}),
             api={"action": "answer", "note": "已评估救助条件"}, form_status=403, api_status=403)
    db.session.expire_all()
    answer = next(d for d in case.deadlines if d.rule == "answer")
    assert answer.met_at is None, "the 60-day deadline must stay unmet"
    assert case.status == "in_progress"
    # the departments working the case by dispatch are feedback-only too
    for username in ("xinfang.liaison", "renshe.liaison"):
        _refused(db, signed_in, case, username, form=(f"/cases/{case.number}/transitions/answer", {"remark": "答复"}),
                 api={"action": "answer"}, form_status=403, api_status=403)


def test_district_leader_cannot_terminate_without_a_re_review_decision(app, db, demo, signed_in):
    """Finding 3: through the API a district leader could 终结 a petition that never had a 复核."""
    from center.cases.models import Review

    case = _demo_case(db, "反映区属企业改制职工身份置换补偿标准不一")  # closed; 复查 pending at 市信访局
    assert case.status == "closed" and case.handling_unit.name == "示范区"
    assert db.session.scalar(select(func.count()).select_from(Review).where(
        Review.case_id == case.id, Review.level == "re_review")) == 0
    _refused(db, signed_in, case, "leader.wang", form=None, api={"action": "terminate", "note": "终结"},
             form_status=0, api_status=422)
    # and a freshly closed district petition with no review at all
    fresh = spec.build(demo, "D.p.closed").case
    _refused(db, signed_in, fresh, "leader.wang", form=(f"/cases/{fresh.number}/transitions/terminate", {}),
             api={"action": "terminate"}, form_status=404, api_status=422)
    db.session.expire_all()
    assert case.status == "closed" and fresh.status == "closed"


def test_clerk_cannot_set_evaluated_without_an_evaluation(app, db, demo, signed_in):
    """Finding 4: through the API a clerk could set 已评价 on a case with no evaluation."""
    from center.cases.models import Evaluation

    closed = spec.build(demo, "T.p.closed").case
    assert closed.status == "closed"
    _refused(db, signed_in, closed, "qs.staff", form=(f"/cases/{closed.number}/transitions/evaluate", {}),
             api={"action": "evaluate", "note": "满意"}, form_status=404, api_status=422)
    # the demo's closed village dispute, never evaluated, by the village's own clerk
    dispute = _demo_case(db, "物业费与停车收费争议")
    assert dispute.status == "closed"
    _refused(db, signed_in, dispute, "qs01.cadre", form=None, api={"action": "evaluate"}, form_status=0,
             api_status=422)
    for case in (closed, dispute):
        assert db.session.scalar(select(func.count()).select_from(Evaluation).where(
            Evaluation.case_id == case.id)) == 0
        db.session.expire_all()
        assert case.status == "closed"


# --- further findings -----------------------------------------------------------------------------------------

def test_an_extension_of_a_transferred_petition_is_noticed_in_the_organs_name(app, db, demo, signed_in):
    """延期 of a petition 区人社局 handles: approved by its head, and the 延期告知书 is the department's, like its
    answer (DOMAIN.md §2: documents are issued in the name of the competent organ)."""
    from center.cases.models import CaseDocument

    subject = spec.build(demo, "X.p.accepted")
    client, token = spec.sign_in(signed_in, "renshe.head")
    response = client.post(f"/cases/{subject.number}/extension",
                           data={"days": "10", "reason": "需调取工资发放记录", "csrf_token": token})
    assert response.status_code == 302, spec.messages(response.get_data(as_text=True))
    notice = db.session.scalar(select(CaseDocument).where(CaseDocument.case_id == subject.case.id,
                                                          CaseDocument.kind == "extension"))
    renshe = demo.department(spec.RENSHE)
    assert notice is not None
    assert (notice.organ_department_id, notice.organ_name) == (renshe.id, spec.RENSHE), \
        f"延期告知书 issued as {notice.organ_name!r}"


def test_the_district_government_reviews_its_departments_answer_on_the_platform(app, db, demo, signed_in):
    """复查 of 区人社局's answer: 信访工作条例 Art. 35 names the organ's 本级人民政府 (示范区, on the platform) — the
    answer itself tells the petitioner so — and the district center may record the request there."""
    from center.cases.documents.operations import upper_organ_name
    from center.cases.models import Review

    for username in ("renshe.liaison", "center.li"):
        subject = spec.build(demo, "X.p.closed")
        case = subject.case
        assert upper_organ_name(case.handling_unit, case.handling_department) == "示范区人民政府"
        client, token = spec.sign_in(signed_in, username)
        response = client.post(f"/cases/{subject.number}/reviews", data={
            "level": "review", "requested_on": spec._today().isoformat(), "organ": "platform", "csrf_token": token})
        assert response.status_code == 302, (username, response.status_code,
                                             spec.messages(response.get_data(as_text=True)))
        review = db.session.scalar(select(Review).where(Review.case_id == case.id))
        assert review.organ_unit is not None and review.organ_unit.name == "示范区"


def test_the_former_organs_draft_cannot_answer_a_transferred_petition(app, db, demo, signed_in):
    """A draft answer written by the district center before the case was transferred to 区人社局 is the former
    organ's: once 区人社局 is the organ, the district's leader no longer approves it, and the department cannot
    close the case on an answer issued in another organ's name."""
    from center.cases.documents import operations as documents
    from center.cases.documents.texts import ANSWER_PLACEHOLDER
    from center.cases.lifecycle.operations import transition
    from center.cases.models import CaseDocument

    subject = spec.build(demo, "D.p.registered")
    case = subject.case
    doc = documents.draft_document(case, "answer", actor=demo.actor("center.li"))
    documents.edit_document(doc, actor=demo.actor("center.li"), title=doc.title, doc_no=doc.doc_no,
                            body=doc.body.replace(ANSWER_PLACEHOLDER, "经核实，已处理。"))
    transition(case, "transfer", actor=demo.actor("center.li"), department=demo.department(spec.RENSHE))
    db.session.commit()
    client, token = spec.sign_in(signed_in, "leader.wang")
    before = spec.snapshot(db, case.id)
    response = client.post(f"/cases/{case.number}/documents/{doc.id}/approve", data={"csrf_token": token})
    assert response.status_code in (403, 422), "the district's leader approved an answer for 区人社局's case"
    assert spec.changes(before, spec.snapshot(db, case.id)) == []
    db.session.expire_all()
    assert db.session.get(CaseDocument, doc.id).approved_at is None


def test_no_form_offers_a_step_with_nothing_to_choose(app, db, demo, signed_in):
    """A township petition cannot be handed down (its units below are villages) and 青石镇's departments have
    nobody to receive a 转送; a district case has nothing above it: the page should not offer those forms."""
    township = spec.build(demo, "T.p.registered")
    html = signed_in("qs.staff").get(f"/cases/{township.number}").get_data(as_text=True)
    shown = spec.offered(html, township)
    assert "hand_down" not in shown and "transfer" not in shown, sorted(shown)
    district = spec.build(demo, "D.p.in_progress")
    html = signed_in("center.li").get(f"/cases/{district.number}").get_data(as_text=True)
    assert "escalate" not in spec.offered(html, district)


def test_origin_records_the_evaluation_only_on_a_follow_up_visit(app, db, demo, signed_in):
    """The origin's evaluation is the one taken on a follow-up visit: a village head or cadre of the place the
    matter arose does not record the petitioner's evaluation of the township's handling by hand."""
    from center.cases.models import Evaluation

    subject = spec.build(demo, "T.p.closed")
    for username in ("qs01.head", "qs01.cadre"):
        client, token = spec.sign_in(signed_in, username)
        before = spec.snapshot(db, subject.case.id)
        response = client.post(f"/cases/{subject.number}/evaluations", data={
            "stage": "result", "rating": "satisfied", "source": "staff", "csrf_token": token})
        assert response.status_code == 403, (username, response.status_code)
        assert spec.changes(before, spec.snapshot(db, subject.case.id)) == []
    # on a visit it is theirs
    client, token = spec.sign_in(signed_in, "qs01.head")
    response = client.post(f"/cases/{subject.number}/follow-ups", data={
        # now, to the minute: never before the 办结 (five minutes earlier was the day before in the first
        # minutes after midnight in Shanghai, and the visit was refused as earlier than the closing)
        "visited_at": spec._local(spec._now()), "method": "home", "notes": "入户回访",
        "rating": "satisfied", "csrf_token": token})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Evaluation).where(
        Evaluation.case_id == subject.case.id, Evaluation.source == "follow_up")) == 1
