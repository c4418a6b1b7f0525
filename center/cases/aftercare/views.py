"""Evaluations and follow-up visits on the case page: the panel and its form posts; and the blueprint of the
case page's after-answer forms, which mediation (center.cases.mediation.views) and 复查/复核
(center.cases.reviews.views) put their routes on too (endpoints ``case_aftercare.*``).

Every form lives in a panel of the case page (center.cases.registry); a post goes through ``core.web.submit``
and redirects back to the panel. A refused post re-renders just that form (cases/aftercare_form.html, 422)
with the typed values and Chinese messages. Children (a session, a review) are loaded by id AND case id after
the case itself was loaded through the scoped query, so a foreign id is a 404.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, url_for
from sqlalchemy import select

from center.cases import registry
from center.cases.aftercare import operations as aftercare
from center.cases.aftercare.schemas import EvaluationArgs, NoteArgs, VisitArgs
from center.cases.lifecycle import operations as lifecycle
from center.cases.models import (
    EVALUATION_SOURCE_LABELS,
    EVALUATION_STAGE_LABELS,
    MEDIATION_OUTCOME_LABELS,
    MEDIATION_TYPE_LABELS,
    RATING_LABELS,
    REVIEW_DECISION_LABELS,
    REVIEW_LEVEL_LABELS,
    VISIT_METHOD_LABELS,
    Case,
    CaseKind,
    Rating,
    ReviewLevel,
)
from center.cases.queries import get_case_by_number_or_404
from center.cases.reviews.operations import can_request
from core.auth.decorators import permission
from core.auth.permissions import can
from core.calendar.days import SHANGHAI
from core.db import get_or_404
from core.web import current_actor, submit

bp = Blueprint("case_aftercare", __name__, url_prefix="/cases", template_folder="templates")
#: ids no column can hold do not even match the route (404 before the permission guard)
ID = "int(max=2147483647)"
FORM_TEMPLATE = "cases/aftercare_form.html"

EVENT_LABELS = {"evaluation": "群众评价", "follow_up": "回访"}
LABELS = {"type": MEDIATION_TYPE_LABELS, "outcome": MEDIATION_OUTCOME_LABELS, "stage": EVALUATION_STAGE_LABELS,
          "rating": RATING_LABELS, "source": EVALUATION_SOURCE_LABELS, "method": VISIT_METHOD_LABELS,
          "level": REVIEW_LEVEL_LABELS, "decision": REVIEW_DECISION_LABELS}


# --- helpers of the forms on this blueprint ----------------------------------------------------------------

def local(value: datetime) -> datetime:
    """A datetime-local value from the form (naive: Asia/Shanghai wall time) as an aware instant."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def back(case: Case, anchor: str, message: str):
    flash(message, "success")
    return redirect(url_for("cases.detail", number=case.number) + f"#{anchor}")


def child_or_404(model, child_id, case: Case):
    return get_or_404(select(model).where(model.case_id == case.id), child_id)


def panel_form(which: str, case: Case, schema, perform, **extra):
    return submit(schema, perform, FORM_TEMPLATE, which=which, case=case, labels=LABELS, **extra)


def now_local() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


# --- evaluations and follow-up visits ----------------------------------------------------------------------

@bp.route("/<number>/evaluations", methods=["POST"])
@permission("case.evaluate")
def add_evaluation(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        aftercare.record_evaluation(case, actor=actor, stage=args["stage"], rating=args["rating"],
                                    source=args["source"], note=args.get("note"))
        return back(case, "aftercare", "已记录群众评价")

    return panel_form("evaluation", case, EvaluationArgs(), perform)


@bp.route("/<number>/follow-ups", methods=["POST"])
@permission("case.followup")
def add_visit(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        aftercare.record_visit(case, actor=actor, visited_at=local(args["visited_at"]), method=args["method"],
                               notes=args["notes"], rating=args.get("rating"), note=args.get("note"))
        return back(case, "aftercare", "已记录回访")

    return panel_form("visit", case, VisitArgs(), perform, required=aftercare.visits_required())


@bp.route("/<number>/reopen", methods=["POST"])
@permission("case.triage")
def reopen(number: str):
    """重新办理 after an unsatisfied result evaluation (the generic transition, with the reason noted)."""
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        note = args.get("note") or "群众对办理结果不满意，重新办理"
        lifecycle.transition(case, "reopen", actor=actor, note=note)
        return back(case, "aftercare", "事项已重新办理")

    return panel_form("reopen", case, NoteArgs(), perform)


# --- panel -------------------------------------------------------------------------------------------------

def aftercare_panel(case: Case, actor) -> dict | None:
    evaluations = aftercare.evaluations_of(case)
    if not evaluations and not aftercare.was_accepted(case):
        return None
    visits = aftercare.visits_of(case)
    stages = []
    if aftercare.was_accepted(case):
        stages.append(("acceptance", EVALUATION_STAGE_LABELS["acceptance"]))
    if case.status in aftercare.CLOSED:
        stages.append(("result", EVALUATION_STAGE_LABELS["result"]))
    latest = aftercare.latest_result_evaluation(case)
    unsatisfied = (latest is not None and latest.rating == Rating.unsatisfied and case.status in aftercare.CLOSED)
    required = aftercare.visits_required()
    done = len(aftercare.visits_this_round(case))
    may_visit = (case.status in aftercare.VISITABLE and done < required and can(actor, aftercare.FOLLOW_UP, case))
    return {"evaluations": evaluations, "visits": visits, "labels": LABELS, "stages": stages,
            "can_evaluate": bool(stages) and can(actor, lifecycle.EVALUATE, case),
            "can_visit": may_visit, "required": required, "done": done, "due": aftercare.follow_ups_due(case),
            "latest": latest, "unsatisfied": unsatisfied,
            "can_reopen": unsatisfied and can(actor, lifecycle.TRIAGE, case),
            "can_review": unsatisfied and case.kind == CaseKind.petition and can_request(case, ReviewLevel.review),
            "placement": "top" if unsatisfied else None, "now": now_local()}


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES), with mediation's and 复查/复核's panels: their
    routes sit on this blueprint, so their modules are imported before it is registered."""
    from center.cases.mediation import views as mediation_views
    from center.cases.reviews import views as review_views

    app.register_blueprint(bp)
    mediation_views.init_app(app)
    review_views.init_app(app)
    registry.register_panel(55, "cases/_panel_aftercare.html", aftercare_panel)
    registry.register_event_labels(EVENT_LABELS)
    from center.cases.aftercare import demo as aftercare_demo
    from core import hooks

    hooks.register_demo_seeder("aftercare", aftercare_demo.load)
    hooks.register_audit_labels({"case.evaluation": "记录群众评价", "case.follow_up": "回访"},
                                {"case_evaluations": "群众评价", "case_follow_ups": "回访"})
