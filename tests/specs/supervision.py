"""Registry-test specs of 督办, progress notes and attachments (center.cases.supervision.views,
center.cases.attachments.views)."""

from __future__ import annotations

from sqlalchemy import select

from tests.specs.base import FormSpec

#: Demo cases by summary (center/cases/demo.py CASES).
OVERDUE = "反映养殖场污水排入灌溉渠"      # p-over: 青石镇, overdue
IN_WORK = "反映镇中心小学周边交通安全隐患"  # p-work: 青石镇, in progress


def _number(demo, summary: str) -> str:
    from center.cases.models import Case

    return demo.db.session.scalar(select(Case.number).where(Case.summary == summary))


def _params(summary):
    return lambda demo: {"number": _number(demo, summary)}


def _page(summary):
    return lambda demo: f"/cases/{_number(demo, summary)}"


FORM_SPECS = {
    "case_supervision.supervise_view": FormSpec(
        "qs.leader", _params(OVERDUE), _page(OVERDUE), schema="center.cases.supervision.schemas.SuperviseArgs",
        valid=lambda demo: {"level": "2", "form": "phone", "opinion": "请加快办理，三日内报告进展"}),
    "case_files.add_note_view": FormSpec(
        "qs.staff", _params(IN_WORK), _page(IN_WORK), schema="center.cases.attachments.schemas.NoteArgs",
        valid=lambda demo: {"note": "已电话联系申请人，约定下周现场查看"}),
    "case_files.upload_view": FormSpec(
        "qs.staff", _params(IN_WORK), _page(IN_WORK), schema="center.cases.attachments.schemas.UploadArgs",
        upload=True, valid=lambda demo: {"purpose": "other"}),
}


def tiny_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _let_department_see_a_case(j) -> None:
    """A department user sees the cases assigned to their department. Until the demo dispatches cases to
    departments, give the user's department one live assignment (with its audit row), so the route tests
    reach the attachment as they would in a real district."""
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


def attachment_id(j) -> int:
    """An attachment on the case the route test will name for this user (made if the case has none)."""
    from center.cases.attachments.operations import check_files, upload
    from center.cases.models import Attachment, Case
    from core.actor import Actor

    _let_department_see_a_case(j)
    case = j.db.session.scalar(select(Case).where(Case.number == j.number()))
    found = j.db.session.scalar(select(Attachment.id).where(Attachment.case_id == case.id)
                                .order_by(Attachment.id).limit(1))
    if found is None:
        rows = upload(case, check_files([("路由测试.png", tiny_png())]), actor=Actor.system("cli"))
        j.db.session.commit()
        found = rows[0].id
    return found


URL_PARAMS = {"attachment_id": attachment_id}
