"""Answer documents, approval, service records, extension and their exports: the case-page panel and the
pages behind its buttons. Each page loads the case through the scoped query (404 outside jurisdiction) and
the document by id AND case; the operations in center.cases.documents.operations decide who may do what."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from center.cases import registry
from center.cases.documents import operations as ops
from center.cases.documents.schemas import DRAFT_KINDS, METHODS, DraftArgs, EditArgs, ExtendArgs, ServeArgs
from center.cases.models import CaseDocument, CaseStatus, DocumentKind
from center.cases.queries import get_case_by_number_or_404
from core.accounts.models import User
from core.auth.decorators import permission
from core.db import db, get_or_404
from core.errors import ValidationFailed
from core.schemas import EmptyArgs
from core.web import current_actor, submit

bp = Blueprint("case_documents", __name__, url_prefix="/cases", template_folder="templates")

#: ids beyond a 32-bit column never match a route (404 before any permission check)
DOC_ID = "<int(max=2147483647):doc_id>"
EVENT_LABELS = {"document_drafted": "起草文书", "document_approved": "审批文书", "document_served": "送达文书",
                "deadline_met": "期限完成",
                "extended": "延期"}
AUDIT_LABELS = {"case.document_drafted": "起草文书", "case.document_edited": "修改文书",
                "case.document_approved": "审批文书", "case.document_served": "登记送达", "case.extended": "延期",
                "case.document_exported": "导出文书"}


def _case(number: str):
    return get_case_by_number_or_404(number, actor=current_actor())


def _doc(case, doc_id) -> CaseDocument:
    return get_or_404(select(CaseDocument).where(CaseDocument.case_id == case.id), doc_id)


def state_of(doc: CaseDocument) -> tuple[str, str]:
    """(label, tag colour) of a document."""
    if doc.superseded:
        return "已被替代", "tag-off"
    if doc.services:
        return "已送达", "tag-green"
    if doc.is_approved:
        return "已审批", "tag-blue"
    return "草稿", "tag-yellow"


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _doc_context(case, doc) -> dict:
    actor = current_actor()
    return {"case": case, "doc": doc, "state": state_of(doc), "may_edit": ops.may_edit(actor, doc),
            "may_approve": ops.may_approve(actor, doc), "may_serve": ops.may_serve(actor, doc),
            "problems": ops.content_problems(doc) if not doc.is_approved else [],
            "names": _names([doc.drafter_user_id, doc.approved_by_user_id]), "methods": dict(METHODS),
            "lines": doc.body.splitlines()}


# --- the case-page panel -----------------------------------------------------------------------------------------

def panel_context(case, actor) -> dict | None:
    docs = list(db.session.scalars(select(CaseDocument).where(CaseDocument.case_id == case.id)
                                   .order_by(CaseDocument.id)))
    extension = ops.extension_of(case)
    may_draft = ops.may_draft(actor, case)
    may_extend = ops.may_extend(actor, case)
    if not docs and extension is None and not may_draft and not may_extend:
        return None
    kinds = draft_kinds(case) if may_draft else []
    rows = [{"doc": d, "state": state_of(d), "may_edit": ops.may_edit(actor, d),
             "may_approve": ops.may_approve(actor, d), "may_serve": ops.may_serve(actor, d)}
            for d in reversed(docs)]
    return {"rows": rows, "draft_kinds": kinds, "extension": extension, "may_extend": may_extend,
            "review_ends": ops.review_window_ends(case), "names": _names(d.drafter_user_id for d in docs)}


def draft_kinds(case) -> list[tuple[str, str]]:
    """The kinds the case's state lets its organ draft now (documents._check_draftable decides again)."""
    kinds = []
    if case.kind == "petition" and case.status in ops.NOTICE_IN:
        kinds.append(DRAFT_KINDS[2])
    if case.status not in ops.NO_ANSWER_IN:
        kinds.append(DRAFT_KINDS[0])
    if case.status == CaseStatus.not_accepted:
        kinds.append(DRAFT_KINDS[1])
    return kinds


# --- drafting and editing ------------------------------------------------------------------------------------------

@bp.route("/<number>/documents/draft", methods=["GET", "POST"])
@permission("case.handle")
def draft(number: str):
    case = _case(number)
    actor = current_actor()
    kinds = draft_kinds(case) or DRAFT_KINDS[:1]
    ctx = {"case": case, "kinds": kinds, "may_draft": ops.may_draft(actor, case)}
    if request.method == "GET":
        return render_template("cases/document_draft.html", form={"kind": kinds[0][0]}, errors={}, **ctx)

    def perform(args):
        doc = ops.draft_document(case, args["kind"], actor=actor)
        todo = "请逐项填写答复后" if doc.kind == DocumentKind.answer else "请核对后"
        flash(f"已起草{doc.kind_label}，{todo}提交负责人审批", "success")
        return redirect(url_for("case_documents.edit", number=number, doc_id=doc.id))

    return submit(DraftArgs(), perform, "cases/document_draft.html", context_fn=lambda: _refresh(ctx, number))


def _refresh(ctx: dict, number: str, doc_id=None) -> dict:
    """After a rollback: reload what the page shows."""
    case = _case(number)
    out = {**ctx, "case": case}
    if doc_id is not None:
        out.update(_doc_context(case, _doc(case, doc_id)))
    return out


@bp.route(f"/<number>/documents/{DOC_ID}")
@permission("case.read")
def view(number: str, doc_id: int):
    """The document as it stands, for whoever sees the case (the leader reads it here before approving)."""
    case = _case(number)
    doc = _doc(case, doc_id)
    return render_template("cases/document_edit.html", errors={}, form={}, form_fields=False,
                           **_doc_context(case, doc))


@bp.route(f"/<number>/documents/{DOC_ID}/edit", methods=["GET", "POST"])
@permission("case.handle")
def edit(number: str, doc_id: int):
    case = _case(number)
    doc = _doc(case, doc_id)
    ctx = _doc_context(case, doc)
    if request.method == "GET":
        return render_template("cases/document_edit.html", errors={},
                               form={"title": doc.title, "doc_no": doc.doc_no or "", "body": doc.body}, **ctx)

    def perform(args):
        ops.edit_document(doc, actor=current_actor(), title=args["title"], doc_no=args.get("doc_no"),
                          body=args["body"])
        flash("文书已保存", "success")
        return redirect(url_for("case_documents.edit", number=number, doc_id=doc_id))

    return submit(EditArgs(), perform, "cases/document_edit.html", context_fn=lambda: _refresh({}, number, doc_id))


@bp.route(f"/<number>/documents/{DOC_ID}/approve", methods=["POST"])
@permission("case.approve")
def approve(number: str, doc_id: int):
    case = _case(number)
    doc = _doc(case, doc_id)

    def perform(_args):
        ops.approve_document(doc, actor=current_actor())
        flash(f"已审批{doc.kind_label}", "success")
        return redirect(url_for("cases.detail", number=number))

    return submit(EmptyArgs(), perform, "cases/document_edit.html",
                  context_fn=lambda: {**_refresh({}, number, doc_id), "form_fields": False})


# --- service ------------------------------------------------------------------------------------------------------

@bp.route(f"/<number>/documents/{DOC_ID}/serve", methods=["GET", "POST"])
@permission("case.handle")
def serve(number: str, doc_id: int):
    from center.cases.presenters import today_shanghai

    case = _case(number)
    doc = _doc(case, doc_id)
    ctx = {**_doc_context(case, doc), "method_options": METHODS}
    if request.method == "GET":
        return render_template("cases/document_serve.html", errors={},
                               form={"method": "direct", "served_on": today_shanghai().isoformat()}, **ctx)

    def perform(args):
        ops.record_service(doc, actor=current_actor(), method=args["method"], served_on=args["served_on"],
                           reference=args.get("reference"), recipient=args.get("recipient"))
        flash(f"已登记{doc.kind_label}的送达", "success")
        return redirect(url_for("cases.detail", number=number))

    return submit(ServeArgs(), perform, "cases/document_serve.html",
                  context_fn=lambda: {**_refresh({}, number, doc_id), "method_options": METHODS})


# --- extension ----------------------------------------------------------------------------------------------------

def _extension_context(case) -> dict:
    actor = current_actor()
    drafters = ops.extension_drafters(case)
    return {"case": case, "extension": ops.extension_of(case), "deadline": ops.open_answer_deadline(case),
            "is_head": ops.is_organ_leader(actor, *ops.organ_of(case)),
            "organ": ops.organ_name_for(*ops.organ_of(case)),
            "drafter_options": [(u.id, f"{u.display_name}（{u.username}）") for u in drafters]}


@bp.route("/<number>/extension", methods=["GET", "POST"])
@permission("case.approve")
def extend(number: str):
    case = _case(number)
    ctx = _extension_context(case)
    if request.method == "GET":
        first = case.assignee_user_id if case.assignee_user_id in {i for i, _ in ctx["drafter_options"]} else None
        return render_template("cases/document_extend.html", errors={},
                               form={"days": "30", "drafter_id": first or ""}, **ctx)

    def perform(args):
        drafter = None
        if args.get("drafter_id") is not None:
            drafter = {u.id: u for u in ops.extension_drafters(case)}.get(args["drafter_id"])
            if drafter is None:
                raise ValidationFailed({"drafter_id": ["请从列表中选择告知书起草人"]})
        ext = ops.extend(case, actor=current_actor(), days=args["days"], reason=args["reason"], drafter=drafter)
        flash(f"已批准延期 {ext.days} 日，办结期限延至 {ext.new_due_on:%Y-%m-%d}；请将延期告知书送达信访人", "success")
        return redirect(url_for("cases.detail", number=number))

    return submit(ExtendArgs(), perform, "cases/document_extend.html",
                  context_fn=lambda: _extension_context(_case(number)))


# --- exports ------------------------------------------------------------------------------------------------------

def _export(number: str, doc_id: int, ext: str):
    from flask import Response

    from center.cases.documents import export as docexport
    from core.audit.operations import record_security_event

    case = _case(number)
    doc = _doc(case, doc_id)
    data = docexport.to_docx(doc) if ext == "docx" else docexport.to_pdf(doc)
    name, fallback = docexport.filename(doc, ext), f"document-{doc.id}.{ext}"
    doc_id, unit_id = doc.id, case.handling_unit_id
    # A GET that writes (DESIGN.md §4): end the request's read transaction first, then commit the audit row in
    # its own short write transaction.
    db.session.rollback()
    record_security_event(current_actor(), "case.document_exported", result="ok", object_type="case_documents",
                          object_id=doc_id, unit_id=unit_id, changed=[ext])
    mime = docexport.DOCX_MIME if ext == "docx" else docexport.PDF_MIME
    return Response(data, mimetype=mime, headers={"Content-Disposition": docexport.content_disposition(name, fallback),
                                                  "Cache-Control": "no-store"})


@bp.route(f"/<number>/documents/{DOC_ID}.docx")
@permission("case.read")
def export_docx(number: str, doc_id: int):
    return _export(number, doc_id, "docx")


@bp.route(f"/<number>/documents/{DOC_ID}.pdf")
@permission("case.read")
def export_pdf(number: str, doc_id: int):
    return _export(number, doc_id, "pdf")


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    from core import hooks

    app.register_blueprint(bp)
    registry.register_panel(30, "cases/_panel_documents.html", panel_context)
    registry.register_event_labels(EVENT_LABELS)
    hooks.register_audit_labels(AUDIT_LABELS, {"case_documents": "文书", "case_service_records": "送达记录",
                                               "case_extensions": "延期"})
    hooks.register_demo_seeder("documents", seed_demo)


# --- demo ---------------------------------------------------------------------------------------------------------

def seed_demo(_system_actor, context: dict) -> None:
    """Documents in the states a newcomer should see, built through the operations: a draft answer awaiting
    approval (p-yellow), an approved answer not yet served (p-work) and an extension with its notice (p-over)."""
    from datetime import timedelta

    from core.actor import Actor
    from core.db import utcnow

    cases = context.get("cases") or {}
    users = {u.username: u for u in db.session.scalars(select(User).where(
        User.username.in_(("qs.staff", "qs.leader"))))}
    if not {"p-yellow", "p-work", "p-over"} <= set(cases) or len(users) < 2:
        return
    staff, leader = (Actor.for_user(users[n], channel="cli") for n in ("qs.staff", "qs.leader"))
    now = utcnow().replace(microsecond=0)
    ops.draft_document(cases["p-yellow"], DocumentKind.answer, actor=staff, at=now - timedelta(days=1))
    work = ops.draft_document(cases["p-work"], DocumentKind.answer, actor=staff, at=now - timedelta(days=3))
    ops.edit_document(work, actor=staff, title=work.title, doc_no=work.doc_no, body=work.body.replace(
        ops.doc_templates.ANSWER_PLACEHOLDER,
        "经镇安办会同派出所、交管中队现场核查，已在学校周边增设减速带两处、人行横道一处，上下学时段安排专人值守。"))
    ops.approve_document(work, actor=leader, at=now - timedelta(days=2))
    ops.extend(cases["p-over"], actor=leader, days=30, reason="涉及环保部门检测，需补充调查取证",
               drafter=users["qs.staff"], at=now - timedelta(days=14))
