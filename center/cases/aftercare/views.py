"""Mediation sessions, evaluations, follow-up visits and 复查/复核: the case-page panels and their form posts.

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
from center.cases.lifecycle import operations as lifecycle
from center.cases.mediation import operations as mediation
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
    EvaluationSource,
    MediationSession,
    Rating,
    Review,
    ReviewLevel,
)
from center.cases.permissions import REVIEW_REQUEST
from center.cases.presenters import colour_of, today_shanghai
from center.cases.queries import get_case_by_number_or_404
from core.accounts.models import ROLE_LABELS
from core.auth.decorators import permission
from core.auth.permissions import can
from core.calendar.days import SHANGHAI
from core.db import db
from core.errors import NotFound, ValidationFailed, as_id
from core.schemas import BaseSchema, fields, length, number_range, one_of
from core.web import current_actor, submit

bp = Blueprint("case_aftercare", __name__, url_prefix="/cases", template_folder="templates")
#: ids no column can hold do not even match the route (404 before the permission guard)
ID = "int(max=2147483647)"
FORM_TEMPLATE = "cases/aftercare_form.html"

EVENT_LABELS = {
    "mediation_session": "调解记录", "mediation_outcome": "调解结果", "mediation_approved": "审核调解结果",
    "evaluation": "群众评价", "follow_up": "回访", "review_requested": "申请复查", "re_review_requested": "申请复核",
    "review_decided": "复查意见", "re_review_decided": "复核意见", "review_paused": "听证（期限中止）",
}
LABELS = {"type": MEDIATION_TYPE_LABELS, "outcome": MEDIATION_OUTCOME_LABELS, "stage": EVALUATION_STAGE_LABELS,
          "rating": RATING_LABELS, "source": EVALUATION_SOURCE_LABELS, "method": VISIT_METHOD_LABELS,
          "level": REVIEW_LEVEL_LABELS, "decision": REVIEW_DECISION_LABELS}


# --- schemas ---------------------------------------------------------------------------------------------

class SessionArgs(BaseSchema):
    mediation_type = fields.String(required=True, validate=one_of(MEDIATION_TYPE_LABELS))
    held_at = fields.DateTime(required=True)
    place = fields.String(validate=length(max=mediation.PLACE_MAX))
    mediators = fields.String(required=True, validate=length(max=mediation.MEDIATORS_MAX))
    participants = fields.String(validate=length(max=2000))
    notes = fields.String(validate=length(max=mediation.TEXT_MAX))


class OutcomeArgs(BaseSchema):
    outcome = fields.String(required=True, validate=one_of(MEDIATION_OUTCOME_LABELS))
    agreement = fields.String(validate=length(max=mediation.TEXT_MAX))
    guidance = fields.String(validate=length(max=2000))


class NoteArgs(BaseSchema):
    note = fields.String(validate=length(max=500))


class EvaluationArgs(BaseSchema):
    stage = fields.String(required=True, validate=one_of(EVALUATION_STAGE_LABELS))
    rating = fields.String(required=True, validate=one_of(RATING_LABELS))
    source = fields.String(required=True, validate=one_of([EvaluationSource.staff, EvaluationSource.petitioner]))
    note = fields.String(validate=length(max=500))


class VisitArgs(BaseSchema):
    visited_at = fields.DateTime(required=True)
    method = fields.String(required=True, validate=one_of(VISIT_METHOD_LABELS))
    notes = fields.String(required=True, validate=length(max=mediation.TEXT_MAX))
    rating = fields.String(validate=one_of(RATING_LABELS))
    note = fields.String(validate=length(max=500))


class ReviewArgs(BaseSchema):
    level = fields.String(required=True, validate=one_of(REVIEW_LEVEL_LABELS))
    requested_on = fields.Date(required=True)
    organ = fields.String(required=True, validate=one_of(["platform", "external"]))
    external_organ = fields.String(validate=length(max=aftercare.EXTERNAL_MAX))
    external_reference = fields.String(validate=length(max=aftercare.REFERENCE_MAX))


class DecisionArgs(BaseSchema):
    decided_on = fields.Date(required=True)
    decision = fields.String(required=True, validate=one_of(REVIEW_DECISION_LABELS))
    notes = fields.String(validate=length(max=2000))
    external_reference = fields.String(validate=length(max=aftercare.REFERENCE_MAX))


class PauseArgs(BaseSchema):
    days = fields.Integer(required=True, strict=False, validate=number_range(1, aftercare.PAUSE_MAX))
    note = fields.String(validate=length(max=500))


# --- helpers ---------------------------------------------------------------------------------------------

def _local(value: datetime) -> datetime:
    """A datetime-local value from the form (naive: Asia/Shanghai wall time) as an aware instant."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _back(case: Case, anchor: str, message: str):
    flash(message, "success")
    return redirect(url_for("cases.detail", number=case.number) + f"#{anchor}")


def _child(model, child_id, case: Case):
    row = db.session.scalar(select(model).where(model.id == as_id(child_id), model.case_id == case.id))
    if row is None:
        raise NotFound()
    return row


def _form(which: str, case: Case, schema, perform, **extra):
    return submit(schema, perform, FORM_TEMPLATE, which=which, case=case, labels=LABELS, **extra)


# --- mediation -------------------------------------------------------------------------------------------

@bp.route("/<number>/mediation/sessions", methods=["POST"])
@permission("case.handle")
def add_session(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        mediation.record_session(case, actor=actor, mediation_type=args["mediation_type"],
                                 held_at=_local(args["held_at"]), place=args.get("place"),
                                 mediators=args["mediators"], participants=args.get("participants"),
                                 notes=args.get("notes"))
        return _back(case, "mediation", "已记录调解情况")

    return _form("session", case, SessionArgs(), perform)


@bp.route(f"/<number>/mediation/<{ID}:session_id>/outcome", methods=["POST"])
@permission("case.handle")
def session_outcome(number: str, session_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    session = _child(MediationSession, session_id, case)

    def perform(args):
        mediation.record_outcome(session, actor=actor, outcome=args["outcome"], agreement=args.get("agreement"),
                                 guidance=args.get("guidance"))
        return _back(case, "mediation", "已记录调解结果，待办理单位负责人审核")

    return _form("outcome", case, OutcomeArgs(), perform, session=session)


@bp.route(f"/<number>/mediation/<{ID}:session_id>/approve", methods=["POST"])
@permission("case.approve")
def approve_session(number: str, session_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    session = _child(MediationSession, session_id, case)

    def perform(args):
        mediation.approve_outcome(session, actor=actor)
        return _back(case, "mediation", "调解结果已审核，可以出具调处结果并办结")

    return _form("approve", case, NoteArgs(), perform, session=session)


@bp.route(f"/<number>/mediation/<{ID}:session_id>/approve-close", methods=["POST"])
@permission("case.approve")
def approve_close(number: str, session_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    session = _child(MediationSession, session_id, case)

    def perform(args):
        mediation.approve_and_close(session, actor=actor, note=args.get("note"))
        return _back(case, "mediation", "调解结果已审核，事项已办结")

    return _form("approve_close", case, NoteArgs(), perform, session=session)


# --- evaluations and follow-up visits ----------------------------------------------------------------------

@bp.route("/<number>/evaluations", methods=["POST"])
@permission("case.evaluate")
def add_evaluation(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        aftercare.record_evaluation(case, actor=actor, stage=args["stage"], rating=args["rating"],
                                    source=args["source"], note=args.get("note"))
        return _back(case, "aftercare", "已记录群众评价")

    return _form("evaluation", case, EvaluationArgs(), perform)


@bp.route("/<number>/follow-ups", methods=["POST"])
@permission("case.followup")
def add_visit(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        aftercare.record_visit(case, actor=actor, visited_at=_local(args["visited_at"]), method=args["method"],
                               notes=args["notes"], rating=args.get("rating"), note=args.get("note"))
        return _back(case, "aftercare", "已记录回访")

    return _form("visit", case, VisitArgs(), perform, required=aftercare.visits_required())


@bp.route("/<number>/reopen", methods=["POST"])
@permission("case.triage")
def reopen(number: str):
    """重新办理 after an unsatisfied result evaluation (the generic transition, with the reason noted)."""
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        note = args.get("note") or "群众对办理结果不满意，重新办理"
        lifecycle.transition(case, "reopen", actor=actor, note=note)
        return _back(case, "aftercare", "事项已重新办理")

    return _form("reopen", case, NoteArgs(), perform)


# --- 复查 / 复核 -------------------------------------------------------------------------------------------

@bp.route("/<number>/reviews", methods=["POST"])
@permission("case.review_request")
def add_review(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        level = ReviewLevel(args["level"])
        organ_unit = None
        if args["organ"] == "platform":
            organ_unit = aftercare.platform_organ(case, level)
            if organ_unit is None:
                raise ValidationFailed({"organ": [f"上一级{REVIEW_LEVEL_LABELS[level]}机关不在本平台，请填写平台外机关名称"]})
        aftercare.request_review(case, actor=actor, level=level, requested_on=args["requested_on"],
                                 organ_unit=organ_unit,
                                 external_organ=args.get("external_organ") if organ_unit is None else None,
                                 external_reference=args.get("external_reference"))
        return _back(case, "reviews", f"已登记{REVIEW_LEVEL_LABELS[level]}申请，决定期限已开始计算")

    return _form("review", case, ReviewArgs(), perform, **_review_options(case))


@bp.route(f"/<number>/reviews/<{ID}:review_id>/decision", methods=["POST"])
@permission("case.read")
def decide(number: str, review_id: int):
    """On the platform the organ's leader decides (case.approve over it); an outside organ's decision is
    recorded by the handling side (case.triage): the operation checks which."""
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    review = _child(Review, review_id, case)

    def perform(args):
        aftercare.decide_review(review, actor=actor, decided_on=args["decided_on"], decision=args["decision"],
                                notes=args.get("notes"), external_reference=args.get("external_reference"))
        return _back(case, "reviews", f"已登记{REVIEW_LEVEL_LABELS[review.level]}意见")

    return _form("decision", case, DecisionArgs(), perform, review=review)


@bp.route(f"/<number>/reviews/<{ID}:review_id>/pause", methods=["POST"])
@permission("case.read")
def pause(number: str, review_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    review = _child(Review, review_id, case)

    def perform(args):
        aftercare.pause_review(review, actor=actor, days=args["days"], note=args.get("note"))
        return _back(case, "reviews", "听证时间已不计入决定期限")

    return _form("pause", case, PauseArgs(), perform, review=review)


# --- panels ----------------------------------------------------------------------------------------------

def _now_local() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


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
            "leader_label": ROLE_LABELS[role] if role else "负责人", "now": _now_local()}


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
            "can_review": unsatisfied and case.kind == CaseKind.petition
            and aftercare.can_request(case, ReviewLevel.review),
            "placement": "top" if unsatisfied else None, "now": _now_local()}


def _review_options(case: Case) -> dict:
    levels = [lvl for lvl in ReviewLevel if aftercare.can_request(case, lvl)]
    options = {}
    for lvl in levels:
        organ = aftercare.platform_organ(case, lvl)
        first, last = aftercare.review_window(case, lvl)
        options[lvl.value] = {"label": REVIEW_LEVEL_LABELS[lvl], "organ": organ, "first": first, "last": last}
    return {"levels": options}


def reviews_panel(case: Case, actor) -> dict | None:
    if case.kind != CaseKind.petition:
        return None
    reviews = aftercare.reviews_of(case)
    options = _review_options(case)
    if not reviews and not options["levels"]:
        return None
    today = today_shanghai()
    rows = []
    rules = lifecycle.deadline_rules()
    for lvl in ReviewLevel:
        review = reviews.get(lvl)
        if review is None:
            continue
        deadline = aftercare.review_deadline(review)
        rows.append({"review": review, "deadline": deadline,
                     "rule_label": rules[deadline.rule].label if deadline else "",
                     "colour": colour_of(deadline, today) if deadline and not deadline.met_at else "green",
                     "days_left": (deadline.due_on - today).days if deadline else None,
                     "can_decide": review.decision is None and aftercare.may_decide(actor, review)})
    return {"rows": rows, "labels": LABELS, "today": today,
            "can_request": bool(options["levels"]) and can(actor, REVIEW_REQUEST, case), **options}


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    app.register_blueprint(bp)
    registry.register_panel(35, "cases/_panel_mediation.html", mediation_panel)
    registry.register_panel(55, "cases/_panel_aftercare.html", aftercare_panel)
    registry.register_panel(65, "cases/_panel_reviews.html", reviews_panel)
    registry.register_event_labels(EVENT_LABELS)
    from center.cases.aftercare import demo as aftercare_demo
    from core import hooks

    hooks.register_demo_seeder("aftercare", aftercare_demo.load)
    hooks.register_audit_labels({
        "case.mediation_session": "记录调解", "case.mediation_outcome": "记录调解结果",
        "case.mediation_approved": "审核调解结果", "case.evaluation": "记录群众评价", "case.follow_up": "回访",
        "case.review_requested": "申请复查", "case.re_review_requested": "申请复核", "case.review_decided": "复查意见",
        "case.re_review_decided": "复核意见", "case.review_paused": "听证（期限中止）",
    }, {"case_mediation_sessions": "调解记录", "case_evaluations": "群众评价", "case_follow_ups": "回访",
        "case_reviews": "复查/复核"})
