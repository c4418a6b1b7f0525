"""督办 on the case page: the record of every 督办 (scheduled and by hand) and a leader's 督办 form.
Registered from center.cases.supervision.jobs.init_app (the 督办 module's entry in center.CASE_MODULES)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from sqlalchemy import select

from center.cases import registry
from center.cases.models import SUPERVISION_FORM_LABELS, SUPERVISION_LEVEL_LABELS
from center.cases.presenters import today_shanghai
from center.cases.queries import get_case_by_number_or_404
from center.cases.supervision.operations import (
    MANUAL_FORMS,
    MANUAL_LEVELS,
    NOT_SUPERVISED,
    SUPERVISE,
    can_supervise,
    rule_label,
    supervise,
    supervisions_of,
)
from center.cases.supervision.schemas import SuperviseArgs
from core.accounts.models import User
from core.auth.decorators import permission
from core.auth.permissions import require
from core.db import db
from core.web import current_actor, submit

bp = Blueprint("case_supervision", __name__, url_prefix="/cases", template_folder="templates")


def options() -> dict:
    return {"levels": [(str(n), SUPERVISION_LEVEL_LABELS[n]) for n in MANUAL_LEVELS],
            "forms": [(f.value, SUPERVISION_FORM_LABELS[f]) for f in MANUAL_FORMS]}


@bp.route("/<number>/supervise", methods=["POST"])
@permission(SUPERVISE)
def supervise_view(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    require(actor, SUPERVISE, case)

    def perform(args):
        row = supervise(case, actor=actor, level=int(args["level"]), form=args["form"], note=args["opinion"],
                        new_due_on=args.get("new_due_on"), today=today_shanghai())
        flash(f"已发出{SUPERVISION_LEVEL_LABELS[row.level]}（{SUPERVISION_FORM_LABELS[row.form]}）", "success")
        return redirect(url_for("cases.detail", number=case.number) + "#supervision")

    return submit(SuperviseArgs(), perform, "cases/work_form.html", case=case,
                  form_template="cases/_form_supervise.html", page_title="督办", today=today_shanghai(),
                  **options())


def _panel(case, actor) -> dict | None:
    rows = supervisions_of(case)
    allowed = case.status not in NOT_SUPERVISED and can_supervise(actor, case)
    if not rows and not allowed:
        return None
    ids = {r.issued_by_user_id for r in rows if r.issued_by_user_id}
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
    items = [{"row": r, "level": SUPERVISION_LEVEL_LABELS.get(r.level, str(r.level)),
              "form": SUPERVISION_FORM_LABELS.get(r.form, str(r.form)),
              "by": names.get(r.issued_by_user_id, "系统自动") if r.issued_by_user_id else "系统自动",
              "deadline": rule_label(r.deadline.rule) if r.deadline is not None else None} for r in rows]
    return {"records": items, "may_supervise": allowed, "form": {}, "errors": {}, "today": today_shanghai(),
            **options()}


def init_app(app) -> None:
    app.register_blueprint(bp)
    registry.register_panel(40, "cases/_panel_supervision.html", _panel)
    registry.register_event_labels({"supervision_1": "临期提醒", "supervision_2": "超期督办",
                                    "supervision_3": "挂牌督办", "supervision_manual": "领导督办"})
    from core import hooks

    hooks.register_audit_labels({
        "case.supervise": "人工督办", "case.supervision_1": "临期提醒", "case.supervision_2": "超期督办",
        "case.supervision_3": "挂牌督办",
    }, {
        "case_supervisions": "督办",
    })
