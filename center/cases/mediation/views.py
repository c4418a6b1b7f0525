"""Mediation on the case page: its panel (sessions, outcome, approval) and the form posts.

The routes sit on the case-page forms blueprint of ``center.cases.aftercare.views`` (endpoints
``case_aftercare.*``, unchanged URLs), which imports this module before registering itself; a refused post
re-renders just that form (cases/aftercare_form.html, 422). A session is loaded by id AND case id after the
case itself was loaded through the scoped query, so a foreign id is a 404.
"""

from __future__ import annotations

from flask import Blueprint

from center.cases import registry
from center.cases.aftercare.schemas import NoteArgs
from center.cases.aftercare.views import ID, LABELS, back, bp, child_or_404, local, now_local, panel_form
from center.cases.lifecycle import operations as lifecycle
from center.cases.mediation import operations as mediation
from center.cases.mediation.schemas import OutcomeArgs, SessionArgs
from center.cases.models import Case, MediationSession
from center.cases.queries import get_case_by_number_or_404
from core.accounts.models import ROLE_LABELS
from core.auth.decorators import permission
from core.auth.permissions import can
from core.web import current_actor

#: No routes: makes this package's templates (the panel, the forms) visible to Jinja.
templates = Blueprint("case_mediation", __name__, template_folder="templates")

EVENT_LABELS = {"mediation_session": "调解记录", "mediation_outcome": "调解结果", "mediation_approved": "审核调解结果"}


@bp.route("/<number>/mediation/sessions", methods=["POST"])
@permission("case.handle")
def add_session(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        mediation.record_session(case, actor=actor, mediation_type=args["mediation_type"],
                                 held_at=local(args["held_at"]), place=args.get("place"),
                                 mediators=args["mediators"], participants=args.get("participants"),
                                 notes=args.get("notes"))
        return back(case, "mediation", "已记录调解情况")

    return panel_form("session", case, SessionArgs(), perform)


@bp.route(f"/<number>/mediation/<{ID}:session_id>/outcome", methods=["POST"])
@permission("case.handle")
def session_outcome(number: str, session_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    session = child_or_404(MediationSession, session_id, case)

    def perform(args):
        mediation.record_outcome(session, actor=actor, outcome=args["outcome"], agreement=args.get("agreement"),
                                 guidance=args.get("guidance"))
        return back(case, "mediation", "已记录调解结果，待办理单位负责人审核")

    return panel_form("outcome", case, OutcomeArgs(), perform, session=session)


@bp.route(f"/<number>/mediation/<{ID}:session_id>/approve", methods=["POST"])
@permission("case.approve")
def approve_session(number: str, session_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    session = child_or_404(MediationSession, session_id, case)

    def perform(args):
        mediation.approve_outcome(session, actor=actor)
        return back(case, "mediation", "调解结果已审核，可以出具调处结果并办结")

    return panel_form("approve", case, NoteArgs(), perform, session=session)


@bp.route(f"/<number>/mediation/<{ID}:session_id>/approve-close", methods=["POST"])
@permission("case.approve")
def approve_close(number: str, session_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    session = child_or_404(MediationSession, session_id, case)

    def perform(args):
        mediation.approve_and_close(session, actor=actor, note=args.get("note"))
        return back(case, "mediation", "调解结果已审核，事项已办结")

    return panel_form("approve_close", case, NoteArgs(), perform, session=session)


def mediation_panel(case: Case, actor) -> dict | None:
    if not mediation.is_mediation_case(case):
        return None
    sessions = mediation.sessions_of(case)
    if not sessions and case.status not in mediation.MEDIATING:
        return None
    handling = can(actor, lifecycle.HANDLE, case)
    approver = mediation.may_approve(actor, case) and case.status in mediation.APPROVABLE
    role = mediation.leader_role(case)
    return {"sessions": sessions, "labels": LABELS, "can_record": handling and case.status in mediation.MEDIATING,
            "can_outcome": handling and case.status in mediation.APPROVABLE, "can_approve": approver,
            "can_approve_close": approver and mediation.may_approve_and_close(actor, case),
            "leader_label": ROLE_LABELS[role] if role else "负责人", "now": now_local()}


def init_app(app) -> None:
    """Called from center.cases.aftercare.views.init_app, once this module's routes are on its blueprint."""
    app.register_blueprint(templates)
    registry.register_panel(35, "cases/_panel_mediation.html", mediation_panel)
    registry.register_event_labels(EVENT_LABELS)
    from core import hooks

    hooks.register_audit_labels({
        "case.mediation_session": "记录调解", "case.mediation_outcome": "记录调解结果",
        "case.mediation_approved": "审核调解结果",
    }, {"case_mediation_sessions": "调解记录"})
