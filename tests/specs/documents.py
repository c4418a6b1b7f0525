"""Registry-test specs of answer documents, approval, service and extension (center.cases.documents.views), and
the helpers the document tests share: a petition worked by 青石镇 with pinned dates, built through the real
operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.browser.screens import Screen
from tests.factories import actor, make_case, unit
from tests.specs.base import FormSpec

SH = ZoneInfo("Asia/Shanghai")
#: Monday 2 March 2026, 09:00 in Shanghai: the petition is received.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SH).astimezone(UTC)
DEMANDS = "1. 补发征收补偿款差额；2、公开补偿标准\n（三）追究相关人员责任。"
ANSWERS = ("经核查，差额补偿款已于3月20日补发到位。", "补偿标准已在村务公开栏张贴公示。", "已移交镇纪委依规处理。")


# actor(db, username) and unit(db, name): the factories' lookups (tests/factories.py).


def working_petition(db, *, via_district: bool = False, at=T0, demands: str = DEMANDS,
                     applicant: str = "王建国"):
    """A petition handled by 青石镇, accepted and in progress (answer deadline running). ``via_district``: filed
    at 城关街道, escalated to the district and handed down to 青石镇 (so 城关街道's leader sees it too)."""
    from center.cases.lifecycle.operations import transition

    origin = "城关街道" if via_district else "青石镇"
    clerk = "cg.staff" if via_district else "qs.staff"
    case = make_case(db, clerk, origin, "petition", summary="反映征收补偿款未足额发放", category="征地拆迁",
                     demands=demands, applicant=applicant, at=at, repeat_of=None)
    if via_district:
        transition(case, "escalate", actor=actor(db, "cg.staff"), at=at + timedelta(hours=1))
        transition(case, "hand_down", actor=actor(db, "center.li"), unit=unit(db, "青石镇"),
                   at=at + timedelta(hours=2))
    transition(case, "accept", actor=actor(db, "qs.staff"), at=at + timedelta(days=1))
    transition(case, "start", actor=actor(db, "qs.staff"), at=at + timedelta(days=1, hours=1))
    return case


def answered_draft(db, case, *, at=None, username="qs.staff"):
    """An answer drafted by ``username`` with every demand answered (ready for approval)."""
    from center.cases.documents import operations as documents
    from center.cases.documents.texts import ANSWER_PLACEHOLDER

    at = at or T0 + timedelta(days=10)
    doc = documents.draft_document(case, "answer", actor=actor(db, username), at=at)
    body = doc.body
    for text in ANSWERS:
        body = body.replace(ANSWER_PLACEHOLDER, text, 1)
    documents.edit_document(doc, actor=actor(db, username), title=doc.title, doc_no=doc.doc_no, body=body)
    return doc


# --- bad-input specs -----------------------------------------------------------------------------------------------

def _fresh(demo):
    case = working_petition(demo.db, at=datetime.now(UTC) - timedelta(days=5))
    demo.db.session.commit()
    return case


def _draft_params(demo):
    case = _fresh(demo)
    doc = answered_draft(demo.db, case, at=datetime.now(UTC) - timedelta(hours=2))
    demo.db.session.commit()
    return {"number": case.number, "doc_id": doc.id}


def _approved_params(demo):
    from center.cases.documents.operations import approve_document
    from center.cases.models import CaseDocument

    params = _draft_params(demo)
    doc = demo.db.session.get(CaseDocument, params["doc_id"])
    approve_document(doc, actor=actor(demo.db, "qs.leader"), at=datetime.now(UTC) - timedelta(hours=1))
    demo.db.session.commit()
    return params


class _Memo:
    """A test calls a spec's params() and page() separately: both must name the same fresh objects, made once
    per test (each test has its own ``demo``)."""

    def __init__(self, make):
        self.make, self.demo, self.value = make, None, None

    def __call__(self, demo):
        if self.demo is not demo:
            self.demo, self.value = demo, self.make(demo)
        return self.value


_working = _Memo(lambda demo: {"number": _fresh(demo).number})
_draft = _Memo(_draft_params)
_approved = _Memo(_approved_params)


def _today(demo) -> str:
    return datetime.now(SH).date().isoformat()


FORM_SPECS = {
    "case_documents.draft": FormSpec(
        "qs.staff", _working, lambda demo: f"/cases/{_working(demo)['number']}/documents/draft",
        schema="center.cases.documents.schemas.DraftArgs", valid=lambda demo: {"kind": "answer"}),
    "case_documents.edit": FormSpec(
        "qs.staff", _draft, lambda demo: "/cases/{number}/documents/{doc_id}/edit".format(**_draft(demo)),
        schema="center.cases.documents.schemas.EditArgs",
        valid=lambda demo: {"title": "信访事项处理意见书", "doc_no": "青石信复〔2026〕第99号",
                            "body": "王建国：\n经核查，现答复如下。\n如不服本处理意见，可自收到本处理意见之日起30日内向示范区人民政府申请复查。"}),
    "case_documents.approve": FormSpec(
        "qs.leader", _draft, lambda demo: "/cases/{number}/documents/{doc_id}".format(**_draft(demo))),
    "case_documents.serve": FormSpec(
        "qs.staff", _approved, lambda demo: "/cases/{number}/documents/{doc_id}/serve".format(**_approved(demo)),
        schema="center.cases.documents.schemas.ServeArgs",
        valid=lambda demo: {"method": "registered_mail", "served_on": _today(demo), "reference": "EA123456789CN",
                            "recipient": "王建国"}),
    "case_documents.extend": FormSpec(
        "qs.leader", _working, lambda demo: f"/cases/{_working(demo)['number']}/extension",
        schema="center.cases.documents.schemas.ExtendArgs",
        valid=lambda demo: {"days": "15", "reason": "需会同环保部门补充检测"}),
}


# --- URL parameters -----------------------------------------------------------------------------------------------

def _let_department_see_a_case(j) -> None:
    """A department user sees the cases assigned to their department: until the demo dispatches cases, give
    the user's department one live assignment (with its audit row) on the first case."""
    from center.cases.models import Case, PetitionClass
    from center.cases.queries import cases_query
    from center.departments.models import AssignmentStatus, CaseAssignment
    from core.actor import Actor
    from core.audit.operations import record

    m = j.membership
    if m is None or m.department_id is None:
        return
    if j.db.session.scalar(cases_query(Actor.for_user(j.user)).with_only_columns(Case.id).limit(1)) is not None:
        return
    case = j.db.session.scalar(select(Case).where(Case.petition_class.is_distinct_from(PetitionClass.accusation))
                               .order_by(Case.id).limit(1))
    row = CaseAssignment(case_id=case.id, department_id=m.department_id, status=AssignmentStatus.active,
                         task="路由测试")
    j.db.session.add(row)
    j.db.session.flush()
    record(Actor.system("cli"), "case.dispatch", row, unit_id=case.handling_unit_id, changed=["department_id"])
    j.db.session.commit()


def doc_id(j) -> int:
    """A document on the case the route test names for this user (drafted by a handler of that case if the
    case has none yet)."""
    from center.cases.documents import operations as documents
    from center.cases.models import Case, CaseDocument, CaseStatus
    from core.accounts.models import User
    from core.actor import Actor

    _let_department_see_a_case(j)
    case = j.db.session.scalar(select(Case).where(Case.number == j.number()))
    found = j.db.session.scalar(select(CaseDocument.id).where(CaseDocument.case_id == case.id)
                                .order_by(CaseDocument.id).limit(1))
    if found is not None:
        return found
    candidates = [j.user, *j.db.session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id))]
    drafter = next(a for a in (Actor.for_user(u) for u in candidates) if documents.may_draft(a, case))
    kind = "not_accepted" if case.status == CaseStatus.not_accepted else "answer"
    doc = documents.draft_document(case, kind, actor=drafter)
    j.db.session.commit()
    return doc.id


URL_PARAMS = {"doc_id": doc_id}

# --- pages in the browser -------------------------------------------------------------------------------------------
# Demo cases and documents are named by summary ({case[…]}, {doc[…|kind|draft|approved]}): p-work has an approved
# answer not yet served, p-yellow a draft awaiting approval (center.cases.documents.views.seed_demo).
P_WORK, P_YELLOW = "反映镇中心小学周边交通安全隐患", "讨要石材厂拖欠的劳务费"

SCREENS = [
    Screen("document-edit", "qs.staff", f"/cases/{{case[{P_YELLOW}]}}/documents/{{doc[{P_YELLOW}|answer|draft]}}/edit",
           "逐项填写"),
    Screen("document-approved", "qs.staff",
           f"/cases/{{case[{P_WORK}]}}/documents/{{doc[{P_WORK}|answer|approved]}}/edit", "已审批"),
    Screen("document-serve", "qs.staff",
           f"/cases/{{case[{P_WORK}]}}/documents/{{doc[{P_WORK}|answer|approved]}}/serve", "送达方式"),
    Screen("document-extension", "qs.leader", f"/cases/{{case[{P_YELLOW}]}}/extension", "延期天数"),
]
