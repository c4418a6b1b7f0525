"""Formal documents of a case and what follows them (DOMAIN.md §2 办结): drafting from a template, editing by
the drafter, approval in a separate action by a leader of the answering organ who is not the drafter, the
service record (送达) from which the 复查 window counts, and the one extension (延期) with its notice.

Operations check visibility first (404), then who may act (403), then the state and the input (422); they
write a CaseEvent for the timeline and an audit row, flush, and never commit.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from center.cases.documents import texts as doc_templates

# the facts a document names, read by the drafting below and by the pages
from center.cases.documents.facts import not_accept_reason, petitioner_names, propose_doc_no  # noqa: F401
from center.cases.lifecycle.operations import HANDLE, shanghai_date
from center.cases.models import (
    Case,
    CaseDocument,
    CaseKind,
    CaseStatus,
    Deadline,
    DocumentKind,
    Extension,
    ServiceMethod,
    ServiceRecord,
)
from center.cases.queries import require_visible
from core.accounts.models import Membership, Role, User
from core.accounts.queries import leader_role
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import can
from core.db import db, utcnow
from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.org.models import Department, OrgUnit, UnitKind
from core.work import timeline

logger = logging.getLogger(__name__)

#: Kinds drafted here (the others belong to review, 督办 and mediation).
DRAFTABLE = (DocumentKind.answer, DocumentKind.acceptance, DocumentKind.not_accepted, DocumentKind.extension)
#: A 受理告知书 is issued once the petition is accepted, before its answer.
NOTICE_IN = frozenset({CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.mediating, CaseStatus.reopened})
#: The deadline each approved (issued) kind meets, by case kind, and the act's name (center.cases.lifecycle.clock).
MEETS_ON_ISSUE = {
    (DocumentKind.acceptance, CaseKind.petition): ("notice", "notice_issued"),
    (DocumentKind.not_accepted, CaseKind.petition): ("notice", "not_accepted_notice"),
    (DocumentKind.answer, CaseKind.petition): ("answer", "answer_issued"),
    (DocumentKind.answer, CaseKind.dispute): ("dispute_resolve", "answer_issued"),
}
#: No answer is drafted once the procedure ended or the case is closed (reopen it first).
NO_ANSWER_IN = frozenset({CaseStatus.not_accepted, CaseStatus.guided_to_legal, CaseStatus.terminated,
                          CaseStatus.closed, CaseStatus.evaluated})
#: The deadline an extension moves.
EXTENDABLE_RULE = "answer"
MAX_EXTENSION_DAYS = 30
REVIEW_WINDOW_DAYS = 30
TITLE_MAX, DOC_NO_MAX, BODY_MAX = 100, 64, 20000


# --- organs and who acts for them ------------------------------------------------------------------------

def organ_name_for(unit: OrgUnit, department: Department | None = None) -> str:
    """The name a document is issued in: the people's government of a township or district (a 街道's office),
    the village/residents' committee, or the department itself."""
    if department is not None:
        return department.name
    if unit.kind == UnitKind.township:
        return unit.name + ("办事处" if unit.name.endswith("街道") else "人民政府")
    if unit.kind == UnitKind.district:
        return unit.name + "人民政府"
    if unit.kind == UnitKind.village:
        return unit.name + "村民委员会"
    if unit.kind == UnitKind.community:
        return unit.name + "居民委员会"
    return unit.center_name or unit.name


def upper_organ_name(unit: OrgUnit, department: Department | None = None) -> str:
    """The organ one level up, where 复查 is requested (possibly outside the platform)."""
    if department is not None:
        return organ_name_for(department.unit)
    if unit.parent is not None:
        return organ_name_for(unit.parent)
    return "上一级人民政府"


def is_organ_leader(actor: Actor, unit: OrgUnit, department: Department | None = None) -> bool:
    """A membership exactly at the organ with its leader role (department_head for a department)."""
    if department is not None:
        return any(m.role == Role.department_head and m.department_id == department.id for m in actor.memberships)
    role = leader_role(unit.tier)  # the leader of an organ by the tier of its unit
    return role is not None and any(m.role == role and m.unit_id == unit.id for m in actor.memberships)


def organ_of(case: Case) -> tuple[OrgUnit, Department | None]:
    """The handling organ in whose name the case is answered: the handling unit's center, or the department
    the case was transferred to (center.cases.permissions)."""
    return case.handling_unit, case.handling_department


def may_draft(actor: Actor, case: Case) -> bool:
    """The handling organ's workers draft (a feedback-only department reports on its assignment instead)."""
    return actor.user_id is not None and can(actor, HANDLE, case)


def may_edit(actor: Actor, doc: CaseDocument) -> bool:
    return actor.user_id == doc.drafter_user_id and not doc.is_approved and not doc.superseded


def of_current_organ(doc: CaseDocument) -> bool:
    """A draft made before a 转送/交办 belongs to the former organ: the new organ answers in its own name."""
    unit, department = organ_of(doc.case)
    return doc.organ_unit_id == unit.id and doc.organ_department_id == (department.id if department else None)


def may_approve(actor: Actor, doc: CaseDocument) -> bool:
    return (actor.user_id is not None and actor.user_id != doc.drafter_user_id and not doc.is_approved
            and not doc.superseded and of_current_organ(doc)
            and is_organ_leader(actor, doc.organ_unit, doc.organ_department))


def may_serve(actor: Actor, doc: CaseDocument) -> bool:
    return doc.is_approved and may_draft(actor, doc.case)


def may_extend(actor: Actor, case: Case) -> bool:
    return (actor.user_id is not None and is_organ_leader(actor, *organ_of(case))
            and extension_of(case) is None and open_answer_deadline(case) is not None)


# --- facts and numbers -------------------------------------------------------------------------------------

def _facts(case: Case, unit: OrgUnit, department: Department | None, doc_no: str, at: datetime,
           **extra) -> doc_templates.DocFacts:
    return doc_templates.DocFacts(
        organ_name=organ_name_for(unit, department), doc_no=doc_no, petitioner=petitioner_names(case),
        received_on=shanghai_date(case.received_at), number=case.number, summary=case.summary,
        demands=doc_templates.split_demands(case.demands), upper_organ=upper_organ_name(unit, department),
        issued_on=shanghai_date(at), **extra)


def _render(case: Case, kind: DocumentKind, facts: doc_templates.DocFacts) -> tuple[str, str]:
    if kind == DocumentKind.answer:
        return doc_templates.answer(facts, petition=case.kind == CaseKind.petition)
    if kind == DocumentKind.not_accepted:
        return doc_templates.not_accepted(facts)
    if kind == DocumentKind.acceptance:
        return doc_templates.acceptance(facts)
    return doc_templates.extension(facts)


def _event(case: Case, actor: Actor, action: str, at: datetime, note: str, changed: list[str]) -> None:
    # each document step writes its own audit row about the document itself
    timeline.log(case, action, actor=actor, at=at, note=note, changed=changed, audit=timeline.NO_AUDIT)


def _new_document(case: Case, kind: DocumentKind, *, actor: Actor, drafter_user_id: int, unit: OrgUnit,
                  department: Department | None, at: datetime, **extra) -> CaseDocument:
    """Supersede the unapproved drafts of this kind, then add the new draft from the template (``actor`` performs
    it; ``drafter_user_id`` is whom the draft belongs to, usually the actor)."""
    for old in db.session.scalars(select(CaseDocument).where(
            CaseDocument.case_id == case.id, CaseDocument.kind == kind, CaseDocument.approved_at.is_(None),
            CaseDocument.superseded.is_(False))):
        old.superseded = True
    doc_no = propose_doc_no(unit, department, kind, shanghai_date(at).year)
    title, body = _render(case, kind, _facts(case, unit, department, doc_no, at, **extra))
    doc = CaseDocument(case=case, kind=kind, organ_unit=unit, organ_department=department,
                       organ_name=organ_name_for(unit, department), doc_no=doc_no, title=title, body=body,
                       drafter_user_id=drafter_user_id, created_at=at, updated_at=at)
    db.session.add(doc)
    db.session.flush()
    _event(case, actor, "document_drafted", at, f"起草{doc.kind_label} {doc_no}", ["documents"])
    record(actor, "case.document_drafted", doc, unit_id=case.handling_unit_id,
           changed=["kind", "organ_name", "doc_no", "title", "body"])
    return doc


# --- drafting and editing ----------------------------------------------------------------------------------

def draft_document(case: Case, kind, *, actor: Actor, organ: OrgUnit | Department | None = None,
                   at: datetime | None = None) -> CaseDocument:
    """Draft ``kind`` (answer, not_accepted, extension) from its template with the case's facts. The drafter
    works for the handling organ (case.handle in the handling relation); the document is issued in the organ's
    name: the handling unit's, or the department's the case was transferred to. ``organ``, if given, must be
    that organ."""
    require_visible(actor, case)
    try:
        kind = DocumentKind(kind)
    except ValueError:
        raise ValidationFailed({"kind": ["请选择文书种类"]}) from None
    if kind not in DRAFTABLE:
        raise ValidationFailed({"kind": ["此类文书不在此处起草"]})
    if not may_draft(actor, case):
        raise PermissionDenied("只有办理机关（办理单位，或事项转送的部门）的工作人员可以起草文书", action=HANDLE)
    unit, department = organ_of(case)
    if organ is not None and organ not in (unit, department):
        raise ValidationFailed({"organ": ["答复机关应为本事项的办理机关"]})
    _check_draftable(case, kind)
    at = at or utcnow()
    extra = {}
    if kind == DocumentKind.not_accepted:
        extra["reason"] = not_accept_reason(case)
    elif kind == DocumentKind.extension:
        ext = extension_of(case)
        extra = {"reason": ext.reason, "days": ext.days, "old_due_on": ext.old_due_on, "new_due_on": ext.new_due_on}
    doc = _new_document(case, kind, actor=actor, drafter_user_id=actor.user_id, unit=unit, department=department, at=at, **extra)
    if kind == DocumentKind.extension:
        extension_of(case).notice_document_id = doc.id
    return doc


def _check_draftable(case: Case, kind: DocumentKind) -> None:
    if kind == DocumentKind.answer and case.status in NO_ANSWER_IN:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，不能起草答复意见书")
    if kind == DocumentKind.acceptance and (case.kind != CaseKind.petition or case.status not in NOTICE_IN):
        raise InvalidTransition("受理告知书在信访事项受理后、答复前出具：事项当前状态为"
                                f"“{case.status_label}”")
    if kind == DocumentKind.not_accepted and case.status != CaseStatus.not_accepted:
        raise InvalidTransition("事项尚未决定不予受理，不能起草不予受理告知书")
    if kind == DocumentKind.extension and extension_of(case) is None:
        raise InvalidTransition("本事项没有经批准的延期，不能起草延期告知书")


def edit_document(doc: CaseDocument, *, actor: Actor, title: str, doc_no: str | None, body: str) -> CaseDocument:
    """Only the drafter, only before approval."""
    require_visible(actor, doc.case)
    if actor.user_id is None or actor.user_id != doc.drafter_user_id:
        raise PermissionDenied("只有文书起草人可以修改文书", action=HANDLE)
    if doc.is_approved:
        raise ValidationFailed({"body": ["已审批的文书不能修改"]}, message="已审批的文书不能修改")
    if doc.superseded:
        raise ValidationFailed({"body": ["该稿已被新稿替代，不能修改"]}, message="该稿已被新稿替代，不能修改")
    title, body, doc_no = (title or "").strip(), (body or "").strip(), (doc_no or "").strip() or None
    errors: dict[str, list[str]] = {}
    if not title or len(title) > TITLE_MAX:
        errors["title"] = [f"请填写标题（不超过 {TITLE_MAX} 个字符）"]
    if doc_no is not None and len(doc_no) > DOC_NO_MAX:
        errors["doc_no"] = [f"文号不能超过 {DOC_NO_MAX} 个字符"]
    if not body or len(body) > BODY_MAX:
        errors["body"] = [f"请填写正文（不超过 {BODY_MAX} 个字符）"]
    if errors:
        raise ValidationFailed(errors)
    changed = [name for name, value in (("title", title), ("doc_no", doc_no), ("body", body))
               if getattr(doc, name) != value]
    doc.title, doc.doc_no, doc.body = title, doc_no, body
    if changed:
        db.session.flush()
        record(actor, "case.document_edited", doc, unit_id=doc.case.handling_unit_id, changed=changed)
    return doc


# --- approval ------------------------------------------------------------------------------------------------

def content_problems(doc: CaseDocument) -> list[str]:
    """What an answer still lacks before a leader may sign it (DOMAIN.md §2: each demand answered, the appeal
    route stated)."""
    problems = []
    if doc.kind != DocumentKind.answer:
        return problems
    if doc_templates.ANSWER_PLACEHOLDER in doc.body:
        problems.append("尚有诉求未填写答复，请起草人逐项答复后再审批")
    if doc.case.kind == CaseKind.petition and not ("30日" in doc.body and "申请复查" in doc.body):
        problems.append("信访事项处理意见书须载明复查途径（可自收到本处理意见之日起30日内向上一级机关申请复查）")
    if not doc.doc_no:
        problems.append("请先填写文号")
    return problems


def approve_document(doc: CaseDocument, *, actor: Actor, at: datetime | None = None) -> CaseDocument:
    """A leader of the answering organ who is not the drafter approves the document; approved means frozen."""
    require_visible(actor, doc.case)
    if actor.user_id is not None and actor.user_id == doc.drafter_user_id:
        raise PermissionDenied("文书起草人不能审批自己起草的文书，请由本机关其他负责人审批", action="case.approve")
    if actor.user_id is None or not is_organ_leader(actor, doc.organ_unit, doc.organ_department):
        who = "部门负责人" if doc.organ_department is not None else "负责人"
        raise PermissionDenied(f"只有{doc.organ_name}的{who}可以审批此文书", action="case.approve")
    if doc.is_approved:
        raise InvalidTransition("该文书已经审批，不能重复审批")
    if doc.superseded:
        raise InvalidTransition("该稿已被新稿替代，请审批最新稿")
    if not of_current_organ(doc):
        raise InvalidTransition(f"事项已由{organ_name_for(*organ_of(doc.case))}办理，此稿以原办理机关名义起草，"
                                "请由现办理机关重新起草")
    problems = content_problems(doc)
    if problems:
        raise ValidationFailed({"body": problems}, message="；".join(problems))
    at = at or utcnow()
    doc.approved_by_user_id, doc.approved_at = actor.user_id, at
    db.session.flush()
    _event(doc.case, actor, "document_approved", at, f"审批{doc.kind_label} {doc.doc_no or ''}".rstrip(),
           ["documents.approved"])
    _meet_on_issue(doc, actor, at)
    record(actor, "case.document_approved", doc, unit_id=doc.case.handling_unit_id,
           changed=["approved_by_user_id", "approved_at"])
    return doc


def _meet_on_issue(doc: CaseDocument, actor: Actor, at: datetime) -> None:
    """The approved document is issued on its approval date: it meets the deadline its kind names."""
    from center.cases.lifecycle import clock

    spec = MEETS_ON_ISSUE.get((doc.kind, doc.case.kind))
    if spec is None:
        return
    rule, act = spec
    for row in clock.meet(doc.case, [rule], at, act):
        late = "（已超期）" if clock.is_late(row, shanghai_date(at)) else ""
        _event(doc.case, actor, "deadline_met", at,
               f"{clock.ENDED_BY_LABELS[act]}：{_rule_label(rule)}期限（至 {row.due_on:%Y-%m-%d}）于 "
               f"{shanghai_date(at):%Y-%m-%d} 完成{late}", ["deadlines.met_at"])


def _rule_label(rule: str) -> str:
    from center.cases.lifecycle.operations import deadline_rules

    spec = deadline_rules().get(rule)
    return spec.label if spec else rule


# --- service ---------------------------------------------------------------------------------------------------

def record_service(doc: CaseDocument, *, actor: Actor, method, served_on: date, reference: str | None = None,
                   recipient: str | None = None, at: datetime | None = None) -> ServiceRecord:
    """送达 of an approved document: not in the future, not before its approval; mail needs its number."""
    case = doc.case
    require_visible(actor, case)
    if not may_draft(actor, case):
        raise PermissionDenied("只有办理机关（办理单位，或事项转送的部门）的工作人员可以登记送达", action=HANDLE)
    if not doc.is_approved:
        raise InvalidTransition("文书尚未审批，不能登记送达")
    if not of_current_organ(doc):
        raise InvalidTransition("此文书以原办理机关名义出具，事项已转由其他机关办理，不能再登记送达")
    at = at or utcnow()
    reference, recipient = (reference or "").strip() or None, (recipient or "").strip() or None
    errors: dict[str, list[str]] = {}
    try:
        method = ServiceMethod(method)
    except ValueError:
        errors["method"] = ["请选择送达方式"]
        method = None
    if not isinstance(served_on, date) or isinstance(served_on, datetime):
        errors["served_on"] = ["请填写送达日期"]
    elif served_on > shanghai_date(at):
        errors["served_on"] = ["送达日期不能晚于今天"]
    elif served_on < shanghai_date(doc.approved_at):
        errors["served_on"] = [f"送达日期不能早于文书审批日期（{shanghai_date(doc.approved_at):%Y-%m-%d}）"]
    if method == ServiceMethod.registered_mail and not reference:
        errors["reference"] = ["邮寄送达须填写挂号信或 EMS 邮件号"]
    if reference is not None and len(reference) > 64:
        errors["reference"] = ["编号不能超过 64 个字符"]
    if recipient is not None and len(recipient) > 100:
        errors["recipient"] = ["签收人不能超过 100 个字符"]
    if errors:
        raise ValidationFailed(errors)
    row = ServiceRecord(case_id=case.id, document=doc, method=method, served_on=served_on, reference=reference,
                        recipient=recipient, recorded_by_user_id=actor.user_id, created_at=at, updated_at=at)
    db.session.add(row)
    db.session.flush()
    _event(case, actor, "document_served", at, f"{doc.kind_label}已于 {served_on:%Y-%m-%d} 送达",
           ["documents.service"])
    _open_review_window(doc, row, at)
    record(actor, "case.document_served", row, unit_id=case.handling_unit_id,
           changed=["method", "served_on", "reference", "recipient"])
    return row


def _open_review_window(doc: CaseDocument, service: ServiceRecord, at: datetime) -> None:
    """The first service of a petition's answer opens the petitioner's 30-day 复查 window (a window row: never
    supervised, never lateness); a re-service does not extend it."""
    from center.cases.lifecycle import clock
    from center.cases.lifecycle.closing import approved_answer
    from center.cases.models import DeadlineKind

    case = doc.case
    if doc.kind != DocumentKind.answer or case.kind != CaseKind.petition or approved_answer(case) is not doc:
        return
    if any(d.rule == "review_window" and d.started_on >= shanghai_date(doc.approved_at) for d in case.deadlines):
        return
    clock.meet(case, ["review_window"], at, "superseded", kind=DeadlineKind.window)  # an earlier round's
    clock.start(case, ["review_window"], at, started_on=service.served_on, kind=DeadlineKind.window)


def review_window_ends(case: Case) -> date | None:
    """Last day to request 复查 (the rule lives in center.cases.reviews.operations.review_window), or None."""
    from center.cases.models import ReviewLevel
    from center.cases.reviews.operations import review_window

    window = review_window(case, ReviewLevel.review)
    return window[1] if window is not None else None


# --- extension -------------------------------------------------------------------------------------------------

def extension_of(case: Case) -> Extension | None:
    return db.session.scalar(select(Extension).where(Extension.case_id == case.id))


def open_answer_deadline(case: Case) -> Deadline | None:
    rows = [d for d in case.deadlines if d.rule == EXTENDABLE_RULE and d.met_at is None]
    return min(rows, key=lambda d: (d.due_on, d.id)) if rows else None


def extension_drafters(case: Case) -> list[User]:
    """Who may draft the 延期告知书: the handling organ's workers (case.handle in the handling relation)."""
    place = (Membership.department_id == case.handling_department_id if case.handling_department_id is not None
             else Membership.unit_id == case.handling_unit_id)
    users = db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(place, Membership.is_active.is_(True), User.is_active.is_(True))
        .order_by(User.username)).unique()
    return [u for u in users if can(Actor.for_user(u), HANDLE, case)]


def extend(case: Case, *, actor: Actor, days: int, reason: str, drafter: User | None = None,
           at: datetime | None = None) -> Extension:
    """延期: once per case, 1–30 days, approved by the handling unit's head (request and approval may be this one
    action). Moves the open answer deadline (same row, same 督办 level) and drafts the 延期告知书: by
    ``drafter`` (a clerk of the handling unit) and then approved with the extension, or by the head himself
    and left for another leader's approval."""
    from core.calendar import load_calendar

    require_visible(actor, case)
    if actor.user_id is None or not is_organ_leader(actor, *organ_of(case)):
        raise PermissionDenied(f"只有办理机关（{organ_name_for(*organ_of(case))}）的负责人可以批准延期",
                               action="case.approve")
    if extension_of(case) is not None:
        raise InvalidTransition("每件事项只能延期一次")
    errors: dict[str, list[str]] = {}
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        errors["days"] = [f"延期天数应在 1–{MAX_EXTENSION_DAYS} 日之间"]
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        errors["reason"] = ["请填写延期理由（不超过 500 个字符），将告知信访人"]
    if drafter is not None and drafter.id not in {u.id for u in extension_drafters(case)}:
        errors["drafter_id"] = ["请从办理单位的工作人员中选择告知书起草人"]
    if errors:
        raise ValidationFailed(errors)
    deadline = open_answer_deadline(case)
    if deadline is None:
        raise InvalidTransition("本事项没有正在计时的办结答复期限，无需延期")
    at = at or utcnow()
    old = deadline.due_on
    due = load_calendar().add_calendar_days(old, days)
    ext = Extension(case_id=case.id, deadline=deadline, days=days, reason=reason, old_due_on=old,
                    new_due_on=due.date, approved_by_user_id=actor.user_id, approved_at=at)
    # The audit row (on the case: one extension per case) travels with the insert: the savepoint, the UNIQUE
    # backstop against a concurrent second extension, must not hold tier data without its audit entry.
    record(actor, "case.extended", case, unit_id=case.handling_unit_id,
           changed=["extension.days", "extension.reason", "deadline.due_on"])
    try:
        with db.session.begin_nested():
            db.session.add(ext)
            db.session.flush()
    except IntegrityError:
        raise InvalidTransition("每件事项只能延期一次") from None
    deadline.due_on, deadline.provisional = due.date, deadline.provisional or due.provisional
    _event(case, actor, "extended", at, f"延期{days}日，办结期限由 {old:%Y-%m-%d} 延长至 {due.date:%Y-%m-%d}：{reason}",
           ["deadlines.due_on", "extension"])
    writer = actor.user_id if drafter is None else drafter.id
    unit, department = organ_of(case)
    notice = _new_document(case, DocumentKind.extension, actor=actor, drafter_user_id=writer, unit=unit,
                           department=department, at=at, reason=reason, days=days, old_due_on=old, new_due_on=due.date)
    if writer != actor.user_id:  # the head approving the extension signs its notice with it
        notice.approved_by_user_id, notice.approved_at = actor.user_id, at
        _event(case, actor, "document_approved", at, f"审批{notice.kind_label} {notice.doc_no}",
               ["documents.approved"])
    ext.notice_document_id = notice.id
    db.session.flush()
    logger.info("case %s extended by %s days by %s", case.number, days, actor)
    return ext
