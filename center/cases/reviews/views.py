"""复查/复核 on the case page: its panel (windows, requests, decision deadlines, 终结) and the form posts.

The routes sit on the case-page forms blueprint of ``center.cases.aftercare.views`` (endpoints
``case_aftercare.*``, unchanged URLs), which imports this module before registering itself; a refused post
re-renders just that form (cases/aftercare_form.html, 422). A review is loaded by id AND case id after the
case itself was loaded through the scoped query, so a foreign id is a 404.
"""

from __future__ import annotations

from flask import Blueprint

from center.cases import registry
from center.cases.aftercare.views import ID, LABELS, back, bp, child_or_404, panel_form
from center.cases.lifecycle import operations as lifecycle
from center.cases.models import REVIEW_LEVEL_LABELS, Case, CaseKind, Review, ReviewLevel
from center.cases.permissions import REVIEW_REQUEST
from center.cases.presenters import colour_of, today_shanghai
from center.cases.queries import get_case_by_number_or_404
from center.cases.reviews import operations as reviews
from center.cases.reviews.schemas import DecisionArgs, PauseArgs, ReviewArgs
from core.auth.decorators import permission
from core.auth.permissions import can
from core.errors import ValidationFailed
from core.web import current_actor

#: No routes: makes this package's templates (the panel, the forms) visible to Jinja.
templates = Blueprint("case_reviews", __name__, template_folder="templates")

EVENT_LABELS = {
    "review_requested": "申请复查", "re_review_requested": "申请复核", "review_decided": "复查意见",
    "re_review_decided": "复核意见", "review_paused": "听证（期限中止）",
}


@bp.route("/<number>/reviews", methods=["POST"])
@permission("case.review_request")
def add_review(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        level = ReviewLevel(args["level"])
        organ_unit = None
        if args["organ"] == "platform":
            organ_unit = reviews.platform_organ(case, level)
            if organ_unit is None:
                raise ValidationFailed({"organ": [f"上一级{REVIEW_LEVEL_LABELS[level]}机关不在本平台，请填写平台外机关名称"]})
        reviews.request_review(case, actor=actor, level=level, requested_on=args["requested_on"],
                               organ_unit=organ_unit,
                               external_organ=args.get("external_organ") if organ_unit is None else None,
                               external_reference=args.get("external_reference"))
        return back(case, "reviews", f"已登记{REVIEW_LEVEL_LABELS[level]}申请，决定期限已开始计算")

    return panel_form("review", case, ReviewArgs(), perform, **review_options(case))


@bp.route(f"/<number>/reviews/<{ID}:review_id>/decision", methods=["POST"])
@permission("case.read")
def decide(number: str, review_id: int):
    """On the platform the organ's leader decides (case.approve over it); an outside organ's decision is
    recorded by the handling side (case.triage): the operation checks which."""
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    review = child_or_404(Review, review_id, case)

    def perform(args):
        reviews.decide_review(review, actor=actor, decided_on=args["decided_on"], decision=args["decision"],
                              notes=args.get("notes"), external_reference=args.get("external_reference"))
        return back(case, "reviews", f"已登记{REVIEW_LEVEL_LABELS[review.level]}意见")

    return panel_form("decision", case, DecisionArgs(), perform, review=review)


@bp.route(f"/<number>/reviews/<{ID}:review_id>/pause", methods=["POST"])
@permission("case.read")
def pause(number: str, review_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    review = child_or_404(Review, review_id, case)

    def perform(args):
        reviews.pause_review(review, actor=actor, days=args["days"], note=args.get("note"))
        return back(case, "reviews", "听证时间已不计入决定期限")

    return panel_form("pause", case, PauseArgs(), perform, review=review)


def review_options(case: Case) -> dict:
    levels = [lvl for lvl in ReviewLevel if reviews.can_request(case, lvl)]
    options = {}
    for lvl in levels:
        organ = reviews.platform_organ(case, lvl)
        first, last = reviews.review_window(case, lvl)
        options[lvl.value] = {"label": REVIEW_LEVEL_LABELS[lvl], "organ": organ, "first": first, "last": last}
    return {"levels": options}


def reviews_panel(case: Case, actor) -> dict | None:
    if case.kind != CaseKind.petition:
        return None
    requested = reviews.reviews_of(case)
    options = review_options(case)
    if not requested and not options["levels"]:
        return None
    today = today_shanghai()
    rows = []
    rules = lifecycle.deadline_rules()
    for lvl in ReviewLevel:
        review = requested.get(lvl)
        if review is None:
            continue
        deadline = reviews.review_deadline(review)
        rows.append({"review": review, "deadline": deadline,
                     "rule_label": rules[deadline.rule].label if deadline else "",
                     "colour": colour_of(deadline, today) if deadline and not deadline.met_at else "green",
                     "days_left": (deadline.due_on - today).days if deadline else None,
                     "can_decide": review.decision is None and reviews.may_decide(actor, review)})
    return {"rows": rows, "labels": LABELS, "today": today,
            "can_request": bool(options["levels"]) and can(actor, REVIEW_REQUEST, case), **options}


def init_app(app) -> None:
    """Called from center.cases.aftercare.views.init_app, once this module's routes are on its blueprint."""
    app.register_blueprint(templates)
    registry.register_panel(65, "cases/_panel_reviews.html", reviews_panel)
    registry.register_event_labels(EVENT_LABELS)
    from core import hooks

    hooks.register_audit_labels({
        "case.review_requested": "申请复查", "case.re_review_requested": "申请复核", "case.review_decided": "复查意见",
        "case.re_review_decided": "复核意见", "case.review_paused": "听证（期限中止）",
    }, {"case_reviews": "复查/复核"})
