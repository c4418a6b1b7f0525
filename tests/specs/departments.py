"""Registry specs of department dispatch (center/departments): the bad-input spec of each form route, how to fill
<assignment_id>, and the on-call department desk for the page screenshots."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.browser.screens import Screen
from tests.specs.base import FormSpec

SPEC_SUMMARY = "坏输入测试：部门派单事项"


def _case(demo):
    """A district petition in progress (handled by 示范区, so every district department may join), made once
    per test through the operations."""
    from center.cases.models import Case
    from tests.factories import make_case

    case = demo.db.session.scalar(select(Case).where(Case.summary == SPEC_SUMMARY))
    if case is None:
        case = make_case(demo, "center.li", "示范区", "petition", summary=SPEC_SUMMARY, repeat_of=None,
                         then=("accept", "start"), commit=True)
    return case


def _assignment(demo, department: str):
    """The live assignment of ``department`` on the spec case (dispatched by center.li when missing)."""
    from center.departments.models import LIVE_ASSIGNMENT, CaseAssignment
    from center.departments.operations import dispatch
    from core.db import utcnow

    case = _case(demo)
    dept = demo.department(department)
    a = demo.db.session.scalar(select(CaseAssignment).where(
        CaseAssignment.case_id == case.id, CaseAssignment.department_id == dept.id,
        CaseAssignment.status.in_([s.value for s in LIVE_ASSIGNMENT])))
    if a is None:
        a = dispatch(case, dept, actor=demo.actor("center.li"), task="坏输入测试",
                     arrive_by=utcnow() + timedelta(hours=2) if dept.kind == "on_call" else None)
        demo.db.session.commit()
    return a


def _params(department: str):
    def params(demo):
        a = _assignment(demo, department)
        return {"number": a.case.number, "assignment_id": a.id}

    return params


def _case_page(demo):
    return f"/cases/{_case(demo).number}"


FORM_SPECS = {
    "departments.dispatch": FormSpec(
        "center.li", lambda demo: {"number": _case(demo).number}, _case_page,
        schema="center.departments.schemas.DispatchArgs",
        valid=lambda demo: {"department_id": str(demo.department("区司法局").id), "task": "指导调解",
                            "next": _case_page(demo)}),
    "departments.acknowledge": FormSpec(
        "minzheng.liaison", _params("区民政局"), _case_page, schema="center.departments.schemas.StepArgs",
        valid=lambda demo: {"next": "/center/department"}),
    "departments.arrive": FormSpec(
        "minzheng.liaison", _params("区民政局"), _case_page, schema="center.departments.schemas.ArriveArgs",
        valid=lambda demo: {"next": "/center/department"}),
    "departments.take": FormSpec(
        "zhujian.liaison", _params("区住房和城乡建设委员会"), _case_page, schema="center.departments.schemas.StepArgs",
        valid=lambda demo: {"next": "/center/department"}),
    "departments.complete": FormSpec(
        "sifa.liaison", _params("区司法局"), _case_page, schema="center.departments.schemas.CompleteArgs",
        valid=lambda demo: {"result": "已指导达成调解协议", "next": "/center/department"}),
    "departments.withdraw": FormSpec(
        "center.li", _params("区司法局"), _case_page, schema="center.departments.schemas.WithdrawArgs",
        valid=lambda demo: {"reason": "当事人撤回申请", "next": _case_page(demo)}),
}


def _assignment_id(j):
    """An assignment on a case the user sees (their own department's, for a department user); any assignment
    for a user who sees none — they must be refused anyway."""
    from center.cases.models import Case
    from center.cases.queries import cases_query
    from center.departments.models import CaseAssignment
    from core.actor import Actor

    visible = cases_query(Actor.for_user(j.user)).with_only_columns(Case.id).correlate(None)
    stmt = select(CaseAssignment.id).where(CaseAssignment.case_id.in_(visible))
    if j.membership is not None and j.membership.department_id is not None:
        stmt = stmt.where(CaseAssignment.department_id == j.membership.department_id)
    found = j.db.session.scalar(stmt.order_by(CaseAssignment.id).limit(1))
    if found is None:
        found = j.db.session.scalar(select(CaseAssignment.id).order_by(CaseAssignment.id).limit(1))
    return found or 1


URL_PARAMS = {"assignment_id": _assignment_id}

SCREENS = [
    Screen("desk-department-oncall", "minzheng.liaison", "/center/department", "待响应召集"),
]
