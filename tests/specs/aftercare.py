"""Registry-test specs of mediation, evaluations, follow-ups and 复查/复核 (center.cases.mediation.views,
center.cases.aftercare.views, center.cases.reviews.views: one blueprint, case_aftercare), on the
demo cases of center/cases/demo.py and the rows center/cases/aftercare/demo.py adds to them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.specs.base import FormSpec

SH = ZoneInfo("Asia/Shanghai")
#: Demo cases by summary.
MEDIATING = "兄弟二人因赡养老人费用分担发生纠纷"   # d-mediate: 上坝村, one session without outcome
CLOSED_DISPUTE = "物业费与停车收费争议"            # d-done: 青石村, closed
CLOSED_PETITION = "反映低保评定不公开"              # p-closed: 青石镇, served 18 days before the demo, visited
REVIEWED = "反映区属企业改制职工身份置换补偿标准不一"  # aftercare_demo: district, 复查 pending at 市信访局
SCHEMAS = "center.cases.aftercare.schemas."
MEDIATION_SCHEMAS = "center.cases.mediation.schemas."
REVIEW_SCHEMAS = "center.cases.reviews.schemas."


def _case(demo, summary: str):
    from center.cases.models import Case

    return demo.db.session.scalar(select(Case).where(Case.summary == summary))


def _number(summary):
    return lambda demo: {"number": _case(demo, summary).number}


def _page(summary):
    return lambda demo: f"/cases/{_case(demo, summary).number}"


def _local(delta: timedelta) -> str:
    return (datetime.now(SH) + delta).strftime("%Y-%m-%dT%H:%M")


def _today() -> str:
    return datetime.now(SH).date().isoformat()


def _session(demo):
    from center.cases.models import MediationSession

    case = _case(demo, MEDIATING)
    return demo.db.session.scalar(select(MediationSession).where(MediationSession.case_id == case.id)
                                  .order_by(MediationSession.id))


def _session_params(demo):
    return {"number": _case(demo, MEDIATING).number, "session_id": _session(demo).id}


def _with_outcome(demo):
    """The demo session on d-mediate, given an outcome awaiting the village head's approval."""
    from center.cases.mediation.operations import record_outcome

    session = _session(demo)
    if session.outcome is None:
        record_outcome(session, actor=demo.actor("qs02.cadre"), outcome="success", agreement="兄弟二人按月各付一半赡养费")
        demo.db.session.commit()
    return _session_params(demo)


def _review(demo):
    from center.cases.models import Review

    return demo.db.session.scalar(select(Review).where(Review.case_id == _case(demo, REVIEWED).id))


def _review_params(demo):
    return {"number": _case(demo, REVIEWED).number, "review_id": _review(demo).id}


FORM_SPECS = {
    "case_aftercare.add_session": FormSpec(
        "qs02.cadre", _number(MEDIATING), _page(MEDIATING), schema=MEDIATION_SCHEMAS + "SessionArgs",
        valid=lambda demo: {"mediation_type": "people", "held_at": _local(-timedelta(hours=3)), "place": "上坝村调解室",
                            "mediators": "上坝村人民调解委员会", "participants": "兄弟二人", "notes": "第二次调解"}),
    "case_aftercare.session_outcome": FormSpec(
        "qs02.cadre", _session_params, _page(MEDIATING), schema=MEDIATION_SCHEMAS + "OutcomeArgs",
        valid=lambda demo: {"outcome": "failure", "guidance": "告知双方可向人民法院提起赡养费诉讼"}),
    "case_aftercare.approve_session": FormSpec(
        "qs02.head", _with_outcome, _page(MEDIATING), schema=SCHEMAS + "NoteArgs", valid=lambda demo: {}),
    "case_aftercare.approve_close": FormSpec(
        "qs02.head", _with_outcome, _page(MEDIATING), schema=SCHEMAS + "NoteArgs",
        valid=lambda demo: {"note": "协议合法有效，同意办结"}),
    "case_aftercare.add_evaluation": FormSpec(
        "qs.staff", _number(CLOSED_PETITION), _page(CLOSED_PETITION), schema=SCHEMAS + "EvaluationArgs",
        valid=lambda demo: {"stage": "acceptance", "rating": "satisfied", "source": "staff", "note": "受理及时"}),
    "case_aftercare.add_visit": FormSpec(
        "qs01.cadre", _number(CLOSED_DISPUTE), _page(CLOSED_DISPUTE), schema=SCHEMAS + "VisitArgs",
        valid=lambda demo: {"visited_at": _local(-timedelta(hours=1)), "method": "home", "notes": "协议已履行",
                            "rating": "basically", "note": "停车费减免已落实"}),
    "case_aftercare.reopen": FormSpec(
        "qs01.head", _number(CLOSED_DISPUTE), _page(CLOSED_DISPUTE), schema=SCHEMAS + "NoteArgs",
        valid=lambda demo: {"note": "物业公司未按协议减免，重新调解"}),
    "case_aftercare.add_review": FormSpec(
        "qs.staff", _number(CLOSED_PETITION), _page(CLOSED_PETITION), schema=REVIEW_SCHEMAS + "ReviewArgs",
        valid=lambda demo: {"level": "review", "requested_on": _today(), "organ": "platform"}),
    "case_aftercare.decide": FormSpec(
        "center.li", _review_params, _page(REVIEWED), schema=REVIEW_SCHEMAS + "DecisionArgs",
        valid=lambda demo: {"decided_on": _today(), "decision": "upheld", "notes": "维持原处理意见",
                            "external_reference": "市信复〔2026〕12号"}),
    "case_aftercare.pause": FormSpec(
        "center.li", _review_params, _page(REVIEWED), schema=REVIEW_SCHEMAS + "PauseArgs",
        valid=lambda demo: {"days": "10", "note": "市信访局组织听证"}),
}


def _first_visible(j, model):
    """The first row of ``model`` on a case the user sees, else any row (the route must refuse it anyway)."""
    from center.cases.models import Case
    from center.cases.queries import cases_query
    from core.actor import Actor

    visible = cases_query(Actor.for_user(j.user)).with_only_columns(Case.id)
    found = j.db.session.scalar(select(model.id).where(model.case_id.in_(visible)).order_by(model.id))
    return found or j.db.session.scalar(select(model.id).order_by(model.id)) or 1


def _session_id(j):
    from center.cases.models import MediationSession

    return _first_visible(j, MediationSession)


def _review_id(j):
    from center.cases.models import Review

    return _first_visible(j, Review)


URL_PARAMS = {"session_id": _session_id, "review_id": _review_id}


# --- pages in the browser -------------------------------------------------------------------------------------
# Demo cases are named by summary ({case[…]}): their numbers follow the year and the seeders' order.

def _screens():
    from tests.browser.screens import Screen

    return [
        Screen("case-mediation", "qs02.head", "/cases/{case[" + MEDIATING + "]}", "记录一次调解"),
        Screen("case-mediation-failed", "cg.staff", "/cases/{case[商铺噪音扰民]}", "调解不成"),
        Screen("case-follow-up", "qs.staff", "/cases/{case[" + CLOSED_PETITION + "]}", "群众评价与回访"),
        Screen("case-review-pending", "center.li", "/cases/{case[" + REVIEWED + "]}", "复查决定期限"),
    ]


SCREENS = _screens()
