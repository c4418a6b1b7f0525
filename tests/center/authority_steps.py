"""The steps the authority table's subjects are built with (tests/center/authority_spec.build): dispatch, an
answer document drafted/approved/served, a mediation session, a summoned department's receiver."""

from __future__ import annotations

from datetime import timedelta


def _now():
    from core.db import utcnow

    return utcnow()


def _today():
    from center.cases.lifecycle.operations import shanghai_date

    return shanghai_date(_now())


def _dispatch(demo, case, department: str, by: str):
    from center.departments.operations import dispatch

    dept = demo.department(department)
    arrive_by = _now() + timedelta(days=1) if dept.kind == "on_call" else None
    return dispatch(case, dept, actor=demo.actor(by), task="权限表：请派员参与", arrive_by=arrive_by)


def _answer_document(demo, case, drafter: str, approver: str | None = None, server: str | None = None):
    from center.cases.documents import operations as documents
    from center.cases.documents.texts import ANSWER_PLACEHOLDER

    doc = documents.draft_document(case, "answer", actor=demo.actor(drafter))
    documents.edit_document(doc, actor=demo.actor(drafter), title=doc.title, doc_no=doc.doc_no,
                            body=doc.body.replace(ANSWER_PLACEHOLDER, "经调查核实，已依法依规处理。"))
    if approver:
        documents.approve_document(doc, actor=demo.actor(approver))
    if server:
        documents.record_service(doc, actor=demo.actor(server), method="direct", served_on=_today(),
                                 reference="回执 0001", recipient="权限表申请人")
    return doc


def _mediation(demo, case, worker: str, *, outcome: bool, approver: str | None = None):
    from center.cases.mediation import operations as mediation

    session = mediation.record_session(case, actor=demo.actor(worker), mediation_type="people",
                                       held_at=_now() - timedelta(hours=1), place="调解室", mediators="人民调解委员会")
    if outcome:
        mediation.record_outcome(session, actor=demo.actor(worker), outcome="success", agreement="双方自愿达成调解协议。")
    if approver:
        mediation.approve_outcome(session, actor=demo.actor(approver))
    return session


def _summon_receiver(demo, department: str) -> None:
    """No dead ends: a department is summoned only if someone there can receive it. The demo's 区水务局 has no
    post, so the table gives it a liaison (outside the rows: nobody's cells change)."""
    from sqlalchemy import select

    from core.accounts.models import Role, User
    from tests.core.jurisdiction_helpers import make_user

    if department == "区水务局" and demo.db.session.scalar(
            select(User).where(User.username == "authority.shuiwu")) is None:
        make_user(demo.db, "authority.shuiwu", Role.department_liaison, demo.department(department))
