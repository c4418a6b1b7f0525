"""Security review of issue 9 (attacks on the case registry's authority): each test is a hole found by attacking
the change as a demo role. Each asserts the secure behaviour, so it fails while the hole is open.

Built on tests/center/authority_spec.py (subjects through the real operations, sign-in, snapshots).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.center import authority_spec as spec
from tests.factories import make_case


def _today() -> str:
    return spec._today().strftime(spec.TODAY_FMT)


def _reviews(db, case_id):
    from center.cases.models import Review

    db.session.expire_all()
    return list(db.session.scalars(select(Review).where(Review.case_id == case_id).order_by(Review.id)))


# --- 1. the handling organ reviews its own answer, and terminates the petition --------------------------------

def test_township_clerk_cannot_record_the_review_as_external_when_the_organ_above_is_on_the_platform(
        app, db, demo, signed_in):
    """qs.staff (township clerk, the answering organ's own worker) records the petitioner's 复查 as asked of an
    organ *outside* the platform although the organ one level up, 示范区, is on it; an outside organ's decision
    is recorded by the handling side (case.triage), so the clerk then records "维持" himself, does the same for
    复核, and the system terminates (终结) the petition: the organ whose answer is contested decided its own
    review and ended the procedure, with no district leader involved (hole: center/cases/aftercare/operations.py
    request_review accepts ``external_organ`` without checking ``platform_organ`` is None).

    Secure: the 复查 request naming an outside organ is refused (422) while the organ above is on the platform,
    nothing is recorded, and the petition is not terminated."""
    s = spec.build(demo, "T.p.closed")
    from center.cases.models import ReviewLevel
    from center.cases.reviews import operations as reviews

    assert reviews.platform_organ(s.case, ReviewLevel.review).name == "示范区"
    client, token = spec.sign_in(signed_in, "qs.staff")
    n = s.number
    before = spec.snapshot(db, s.case.id)
    asked = client.post(f"/cases/{n}/reviews", data={
        "csrf_token": token, "level": "review", "requested_on": _today(), "organ": "external",
        "external_organ": "市信访局"})
    # The attack continues whatever the answer was, to show where it leads.
    for review in _reviews(db, s.case.id):
        if review.decision is None:
            client.post(f"/cases/{n}/reviews/{review.id}/decision", data={
                "csrf_token": token, "decided_on": _today(), "decision": "upheld", "notes": "维持",
                "external_reference": "市信复〔2026〕1号"})
    client.post(f"/cases/{n}/reviews", data={
        "csrf_token": token, "level": "re_review", "requested_on": _today(), "organ": "external",
        "external_organ": "市人民政府信访办"})
    for review in _reviews(db, s.case.id):
        if review.decision is None:
            client.post(f"/cases/{n}/reviews/{review.id}/decision", data={
                "csrf_token": token, "decided_on": _today(), "decision": "upheld", "notes": "维持",
                "external_reference": "市信核〔2026〕1号"})
    status = spec.status_of(db, s.case.id)
    assert status != "terminated", "the answering township's clerk terminated the petition by recording both " \
                                   "reviews as decided by 'outside' organs himself"
    assert asked.status_code == 422, (asked.status_code, spec.messages(asked.get_data(as_text=True)))
    assert spec.changes(before, spec.snapshot(db, s.case.id)) == []


# --- 2. a dispute closes on a lower tier's mediation outcome ---------------------------------------------------

def _escalated_dispute_with_township_outcome(demo, db):
    """A dispute handled by 青石镇: accepted, mediated, 调解不成 approved by qs.leader (the township's leader);
    then escalated to 示范区 because the township could not resolve it."""
    from center.cases.lifecycle.operations import transition

    s = spec.build(demo, "T.d.mediating")
    session = spec._mediation(demo, s.case, "qs.staff", outcome=False, approver=None)
    from center.cases.mediation import operations as mediation

    mediation.record_outcome(session, actor=demo.actor("qs.staff"), outcome="failure",
                             guidance="调解不成，引导当事人向人民法院起诉")
    mediation.approve_outcome(session, actor=demo.actor("qs.leader"))
    transition(s.case, "escalate", actor=demo.actor("qs.staff"), note="镇里调解不成，上报区中心")
    db.session.commit()
    return s


def test_district_cannot_close_an_escalated_dispute_on_the_townships_mediation_outcome(app, db, demo, signed_in):
    """The district center accepts the escalated dispute and, without mediating at all, issues a result and
    leader.wang closes it: ``missing_for_close`` finds the township leader's approval of the township's failed
    mediation and counts it for the district (hole: center/cases/lifecycle/closing.py approved_outcome has no organ
    filter, unlike approved_answer's "only the current organ's answer counts").

    Secure: closing needs a mediation outcome approved by the current handling organ's leader: 422, nothing
    changed."""
    from center.cases.lifecycle.operations import transition

    s = _escalated_dispute_with_township_outcome(demo, db)
    assert s.case.handling_unit.name == "示范区" and s.case.status == "escalated"
    for action in ("accept", "start", "answer"):
        transition(s.case, action, actor=demo.actor("center.li"), note="区中心")
    db.session.commit()
    client, token = spec.sign_in(signed_in, "leader.wang")
    before = spec.snapshot(db, s.case.id)
    response = client.post(f"/api/v1/cases/{s.number}/transitions", json={"action": "close", "note": "办结"},
                           headers={"X-CSRFToken": token})
    assert spec.status_of(db, s.case.id) != "closed", "the district closed the dispute on the township's outcome"
    assert response.status_code == 422, (response.status_code, spec.messages(response.get_data(as_text=True)))
    assert spec.changes(before, spec.snapshot(db, s.case.id)) == []


def test_competent_department_cannot_close_a_transferred_dispute_on_the_townships_outcome(app, db, demo,
                                                                                         signed_in):
    """The same after 转送: 示范区 transfers the escalated dispute to 区人社局 as the competent organ; the
    department accepts, issues a result and its head closes it on the township's mediation outcome, which
    nobody of the department approved (center/cases/lifecycle/closing.py approved_outcome; mediation.approve_outcome does
    not look at the organ either).

    Secure: 422 on close; nothing changed."""
    from center.cases.lifecycle.operations import transition

    s = _escalated_dispute_with_township_outcome(demo, db)
    transition(s.case, "transfer", actor=demo.actor("center.li"), department=demo.department(spec.RENSHE),
               note="转送")
    for action in ("accept", "start", "answer"):
        transition(s.case, action, actor=demo.actor("renshe.liaison"), note="人社局")
    db.session.commit()
    client, token = spec.sign_in(signed_in, "renshe.head")
    before = spec.snapshot(db, s.case.id)
    response = client.post(f"/cases/{s.number}/transitions/close", data={"csrf_token": token, "remark": "办结"})
    assert spec.status_of(db, s.case.id) != "closed", "区人社局 closed the dispute on the township's outcome"
    assert response.status_code == 422, (response.status_code, spec.messages(response.get_data(as_text=True)))
    assert spec.changes(before, spec.snapshot(db, s.case.id)) == []


# --- 3. an accusation that nobody but its filer can ever see -----------------------------------------------------

def test_an_accusation_cannot_name_the_district_itself_and_be_handled_by_the_accused(app, db, demo, signed_in):
    """A village cadre (qs01.cadre) files a 检举控告 petition through the API naming 示范区 — the district root,
    offered by ``accused_unit_options`` — as the accused unit. ``default_handling_unit`` walks up from the
    origin looking for a unit outside the accused and, finding none, stops at the root: the case is
    registered with the accused unit as its handling unit, and since every user of the district sits under it,
    the case is invisible to every clerk and leader of the district (and its 15-day clock runs out unseen);
    only the filer sees it (holes: center/cases/routing/units.py accused_refusal / default_handling_unit and
    center/cases/intake/operations.py file_case, which never checks the handling unit it falls back to against the
    accused).

    Secure: refused with a field error (422), no case created."""
    from sqlalchemy import func

    from center.cases.models import Case

    client, token = spec.sign_in(signed_in, "qs01.cadre")
    count = db.session.scalar(select(func.count()).select_from(Case))
    body = {"kind": "petition", "petition_class": "accusation", "category": "其他", "channel": "letter",
            "summary": "举报区里某领导违规插手工程", "people_count": 1, "risk_colour": "orange", "repeat_of": "none",
            "origin_unit_id": demo.unit("青石村").id, "accused_unit_id": demo.unit("示范区").id,
            "parties": [{"role": "applicant", "kind": "person", "name": "举报人甲"}]}
    response = client.post("/api/v1/cases", json=body, headers={"X-CSRFToken": token})
    if response.status_code == 201:
        number = response.get_json()["number"]
        case = db.session.scalar(select(Case).where(Case.number == number))
        seen_by = [u for u in ("center.li", "leader.wang", "qs.staff", "xinfang.head")
                   if signed_in(u).get(f"/cases/{number}").status_code == 200]
        raise AssertionError(f"registered {number}, handled by {case.handling_unit.name} (the accused); "
                             f"seen by {seen_by or 'nobody'} of the district staff")
    assert response.status_code == 422, spec.messages(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Case)) == count


def test_the_organ_department_does_not_dispatch_to_itself(db, demo):
    """A department that is the handling organ cannot make itself a feedback party too (it would keep sight
    of the case after returning it)."""
    from center.cases.lifecycle.operations import transition
    from center.departments import operations
    from core.errors import ValidationFailed

    renshe = demo.department("区人社局（劳动人事争议仲裁院）")
    case = make_case(demo, "center.li", "示范区", "petition", summary="拖欠工资", category="劳资/欠薪", applicant="赵六")
    transition(case, "transfer", actor=demo.actor("center.li"), department=renshe)
    with pytest.raises(ValidationFailed) as refused:
        operations.dispatch(case, renshe, actor=demo.actor("renshe.liaison"), task="自派")
    assert "已是本事项的办理机关" in refused.value.errors["department_id"][0]
    assert case.assignments == []
