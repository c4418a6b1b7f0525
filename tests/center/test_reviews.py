"""复查 / 复核 and 终结 (信访工作条例 2022, DOMAIN.md §2): requested within 30 days of the service of the answer
(复核: of the 复查 decision), at the organ one level up on the platform or outside it, decided within 30 days
(hearing time not counted); a revoking decision reopens the case, the 复核 decision ends it (终结)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from center.cases.lifecycle import operations as lifecycle
from center.cases.models import (
    CaseDocument,
    CaseStatus,
    DocumentKind,
    Review,
    ServiceMethod,
    ServiceRecord,
)
from center.cases.reviews import operations as reviews
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.center.test_mediation import SH, actions, mediating, party, post, text
from tests.factories import make_case

SERVED = date(2026, 6, 10)  # a Wednesday


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SH)


def served_petition(demo, served_on: date = SERVED, *, district=False):
    """A petition answered by 青石镇 (or by the district center), the answer approved and served on
    ``served_on``, then closed. The document rows are written as the paper trail leaves them (like
    center/cases/demo.py _ready_to_close), the transitions through the lifecycle."""
    clerk, leader = ("center.li", "leader.wang") if district else ("qs.staff", "qs.leader")
    start = served_on - timedelta(days=40)
    case = make_case(demo, clerk, "示范区" if district else "青石镇", "petition", summary="反映低保评定不公开",
                     applicant=party(), at=at(start), repeat_of=None)
    lifecycle.transition(case, "accept", actor=demo.actor(clerk), at=at(start, 11))
    lifecycle.transition(case, "start", actor=demo.actor(clerk), at=at(start, 12))
    unit = case.handling_unit
    doc = CaseDocument(case=case, kind=DocumentKind.answer, organ_unit=unit, organ_name=f"{unit.name}人民政府",
                       doc_no=f"复〔2026〕{case.id}号", title="信访事项处理意见书",
                       body="经调查核实，现答复如下……可自收到本意见之日起30日内向上一级机关申请复查。",
                       drafter_user_id=demo.user(clerk).id, approved_by_user_id=demo.user(leader).id,
                       approved_at=at(served_on - timedelta(days=1)))
    demo.db.session.add(doc)
    demo.db.session.add(ServiceRecord(case_id=case.id, document=doc, method=ServiceMethod.direct, served_on=served_on,
                                      reference="回执 0001", recorded_by_user_id=demo.user(clerk).id))
    lifecycle.transition(case, "answer", actor=demo.actor(clerk), at=at(served_on, 9))
    lifecycle.transition(case, "close", actor=demo.actor(leader), at=at(served_on, 16))
    assert case.status == CaseStatus.closed
    return case


def request(demo, case, by="qs.staff", level="review", on=date(2026, 6, 20), **kw):
    return reviews.request_review(case, actor=demo.actor(by), level=level, requested_on=on, **kw)


def decide(demo, review, by, on, decision="upheld", **kw):
    return reviews.decide_review(review, actor=demo.actor(by), decided_on=on, decision=decision,
                                 notes="经审查，原处理意见认定事实清楚", **kw)


def deadline(case, rule):
    [row] = [d for d in case.deadlines if d.rule == rule]
    return row


# --- the paths --------------------------------------------------------------------------------------------

def test_review_inside_the_platform_then_re_review_outside_then_terminated(db, demo):
    case = served_petition(demo)
    district = demo.unit("示范区")
    assert reviews.platform_organ(case, "review") == district
    review = request(demo, case, organ_unit=district)
    row = deadline(case, "review_decision")
    assert (row.started_on, row.due_on, row.met_at) == (date(2026, 6, 20), date(2026, 7, 20), None)
    assert case.status == CaseStatus.closed and actions(case)[-1] == "review_requested"

    with pytest.raises(PermissionDenied, match="示范区"):  # the township that answered does not review itself
        decide(demo, review, "qs.leader", date(2026, 7, 10))
    with pytest.raises(PermissionDenied):  # district staff hold no case.approve
        decide(demo, review, "center.li", date(2026, 7, 10))
    decide(demo, review, "leader.wang", date(2026, 7, 10))
    assert (review.decision, review.decided_on, case.status) == ("upheld", date(2026, 7, 10), CaseStatus.closed)
    assert row.met_at is not None and actions(case)[-1] == "review_decided"

    # one level above the district is the city: outside the platform
    assert reviews.platform_organ(case, "re_review") is None
    with pytest.raises(ValidationFailed) as exc:
        request(demo, case, level="re_review", on=date(2026, 7, 15), organ_unit=district)
    assert "平台外" in exc.value.errors["organ"][0]
    re_review = request(demo, case, level="re_review", on=date(2026, 7, 15), external_organ="市人民政府")
    assert deadline(case, "re_review_decision").due_on == date(2026, 8, 14)
    with pytest.raises(PermissionDenied):  # an outside decision is recorded by the handling side (case.triage)
        decide(demo, re_review, "qs.leader", date(2026, 8, 10))
    with pytest.raises(ValidationFailed) as exc:
        decide(demo, re_review, "qs.staff", date(2026, 8, 10))
    assert list(exc.value.errors) == ["external_reference"]
    decide(demo, re_review, "qs.staff", date(2026, 8, 10), external_reference="市复核〔2026〕15号")
    assert case.status == CaseStatus.terminated
    assert actions(case)[-2:] == ["re_review_decided", "terminate"]
    [terminate] = [e for e in case.events if e.action == "terminate"]
    assert terminate.actor_user_id is None and "同一事实和理由" in terminate.note  # on the platform's behalf
    assert lifecycle.allowed_actions(case) == []
    with pytest.raises(InvalidTransition):
        request(demo, case, level="re_review", on=date(2026, 8, 11), external_organ="省信访局")


def test_review_outside_the_platform_for_a_district_answer(db, demo):
    case = served_petition(demo, district=True)
    assert reviews.platform_organ(case, "review") is None
    with pytest.raises(ValidationFailed):
        request(demo, case, by="center.li", organ_unit=demo.unit("示范区"))
    review = request(demo, case, by="center.li", external_organ="市信访局", external_reference="市信收〔2026〕87号")
    assert review.organ_name == "市信访局" and review.organ_unit_id is None
    with pytest.raises(PermissionDenied):
        decide(demo, review, "leader.wang", date(2026, 7, 1))
    decide(demo, review, "center.li", date(2026, 7, 1), decision="changed")
    assert review.external_reference == "市信收〔2026〕87号" and case.status == CaseStatus.closed
    re_review = request(demo, case, by="center.li", level="re_review", on=date(2026, 7, 20),
                        external_organ="省信访局")
    decide(demo, re_review, "center.li", date(2026, 8, 3), external_reference="省信复核〔2026〕3号")
    assert case.status == CaseStatus.terminated


def test_a_revoking_review_decision_reopens_the_case(db, demo):
    case = served_petition(demo)
    review = request(demo, case, organ_unit=demo.unit("示范区"))
    decide(demo, review, "leader.wang", date(2026, 7, 1), decision="revoked")
    assert case.status == CaseStatus.reopened and actions(case)[-2:] == ["review_decided", "reopen"]
    [reopen] = [e for e in case.events if e.action == "reopen"]
    assert reopen.actor_user_id is None and "撤销" in reopen.note
    with pytest.raises(InvalidTransition):
        request(demo, case, level="re_review", on=date(2026, 7, 2), external_organ="市人民政府")


# --- the windows ------------------------------------------------------------------------------------------

def test_the_review_window_rolls_over_national_day_and_a_later_request_is_refused(db, demo):
    case = served_petition(demo, date(2026, 9, 3))
    # 30 days after 09-03 is 10-03, inside the 国庆 holiday: the last day is the first working day after it
    assert reviews.review_window(case, "review") == (date(2026, 9, 3), date(2026, 10, 8))
    with pytest.raises(ValidationFailed) as exc:
        request(demo, case, on=date(2026, 10, 9), organ_unit=demo.unit("示范区"))
    [message] = exc.value.errors["requested_on"]
    assert "已超过复查申请期限" in message and "2026-10-08" in message
    with pytest.raises(ValidationFailed):
        request(demo, case, on=date(2026, 9, 2), organ_unit=demo.unit("示范区"))
    assert request(demo, case, on=date(2026, 10, 8), organ_unit=demo.unit("示范区")).requested_on == date(2026, 10, 8)


def test_a_late_request_through_the_page_gets_422_in_chinese_and_changes_nothing(db, demo, signed_in):
    case = served_petition(demo, date(2026, 9, 3))
    db.session.commit()
    client = signed_in("qs.staff")
    page = text(client.get(f"/cases/{case.number}"))
    assert 'id="reviews"' in page and "2026-10-08" in page and "已超过申请期限" in page
    response = post(client, f"/cases/{case.number}/reviews",
                    {"level": "review", "requested_on": "2026-10-09", "organ": "platform"})
    body = text(response)
    assert response.status_code == 422 and "已超过复查申请期限" in body and 'value="2026-10-09"' in body
    assert db.session.scalar(select(func.count()).select_from(Review).where(Review.case_id == case.id)) == 0
    assert [d.rule for d in case.deadlines if d.rule == "review_decision"] == []


def test_re_review_needs_a_decided_review_and_its_own_window(db, demo):
    case = served_petition(demo)
    with pytest.raises(InvalidTransition, match="复查机关作出复查意见后"):
        request(demo, case, level="re_review", external_organ="市人民政府")
    review = request(demo, case, organ_unit=demo.unit("示范区"))
    with pytest.raises(InvalidTransition, match="复查机关作出复查意见后"):
        request(demo, case, level="re_review", external_organ="市人民政府")
    decide(demo, review, "leader.wang", date(2026, 7, 10))
    # 07-10 + 30 days = 08-09, a Sunday: the last day is Monday 08-10
    assert reviews.review_window(case, "re_review") == (date(2026, 7, 10), date(2026, 8, 10))
    with pytest.raises(ValidationFailed):
        request(demo, case, level="re_review", on=date(2026, 8, 11), external_organ="市人民政府")
    assert request(demo, case, level="re_review", on=date(2026, 8, 10), external_organ="市人民政府")


@pytest.mark.parametrize(("kw", "field"), [
    ({"on": date(2026, 6, 9)}, "requested_on"),                 # before the service
    ({"on": date.today() + timedelta(days=2)}, "requested_on"),  # in the future
    ({"organ_unit": None}, "organ"),                            # no organ at all
    ({"external_organ": "市信访局"}, "organ"),                   # both
    ({"organ_unit": "柳河镇"}, "organ"),                         # not the unit one level up
    ({"organ_unit": None, "external_organ": "长" * 101}, "external_organ"),
    ({"level": "appeal"}, "level"),
])
def test_bad_review_requests_are_refused_and_change_nothing(db, demo, kw, field):
    case = served_petition(demo)
    kw = {"organ_unit": "示范区", **kw}
    if isinstance(kw["organ_unit"], str):
        kw["organ_unit"] = demo.unit(kw["organ_unit"])
    with pytest.raises(ValidationFailed) as exc:
        request(demo, case, **kw)
    assert field in exc.value.errors
    assert reviews.reviews_of(case) == {} and "review_decision" not in {d.rule for d in case.deadlines}


def test_who_may_record_a_request_and_on_which_cases(db, demo):
    case = served_petition(demo)
    with pytest.raises(PermissionDenied):  # a township leader holds no case.triage
        request(demo, case, by="qs.leader", organ_unit=demo.unit("示范区"))
    with pytest.raises(NotFound):
        request(demo, case, by="qs01.head", organ_unit=demo.unit("示范区"))
    assert request(demo, case, by="center.li", organ_unit=demo.unit("示范区"))  # the organ above records it too
    with pytest.raises(InvalidTransition, match="已申请过复查"):
        request(demo, case, organ_unit=demo.unit("示范区"))
    dispute = mediating(demo)
    with pytest.raises(InvalidTransition, match="只有信访事项"):
        request(demo, dispute, by="qs01.head", external_organ="青石镇人民政府")
    open_case = make_case(demo, "qs.staff", "青石镇", "petition", summary="未办结事项", applicant=party(),
                          repeat_of=None)
    with pytest.raises(InvalidTransition, match="办结并送达"):
        request(demo, open_case, organ_unit=demo.unit("示范区"))


def test_hearing_time_is_not_counted(db, demo):
    case = served_petition(demo)
    review = request(demo, case, organ_unit=demo.unit("示范区"))
    with pytest.raises(PermissionDenied):
        reviews.pause_review(review, actor=demo.actor("qs.staff"), days=10)
    row = reviews.pause_review(review, actor=demo.actor("leader.wang"), days=10, note="组织听证")
    assert (row.paused_days, row.due_on) == (10, date(2026, 7, 30))
    assert actions(case)[-1] == "review_paused"
    with pytest.raises(ValidationFailed):
        reviews.pause_review(review, actor=demo.actor("leader.wang"), days=0)


# --- the panel --------------------------------------------------------------------------------------------

def test_the_district_leader_decides_on_the_case_page(db, demo, signed_in):
    case = served_petition(demo)
    review = request(demo, case, organ_unit=demo.unit("示范区"))
    db.session.commit()
    staff_page = text(signed_in("qs.staff").get(f"/cases/{case.number}"))
    assert "复查决定期限" in staff_page and "登记复查意见" not in staff_page
    leader = signed_in("leader.wang")
    assert "登记复查意见" in text(leader.get(f"/cases/{case.number}"))
    url = f"/cases/{case.number}/reviews/{review.id}/decision"
    assert post(signed_in("qs.leader"), url, {"decided_on": "2026-07-01", "decision": "upheld"}).status_code == 403
    response = post(leader, url, {"decided_on": "2026-07-01", "decision": "upheld", "notes": "维持"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#reviews")
    db.session.expire_all()
    assert review.decision == "upheld" and review.decided_on == date(2026, 7, 1)
    assert "维持原处理意见" in text(leader.get(f"/cases/{case.number}"))
