"""The case page: facts, parties (masked), deadlines and the timeline — one record for life."""

from __future__ import annotations

from flask import Blueprint, render_template

from center.cases import models, registry
from center.cases.operations import reveal
from center.cases.presenters import RULE_LABELS, colour_of, today_shanghai
from center.cases.queries import get_case_by_number_or_404
from core.auth.decorators import permission
from core.crypto import mask
from core.web import current_actor

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")


@bp.route("/<number>")
@permission("case.read")
def detail(number: str):
    case = get_case_by_number_or_404(number, actor=current_actor())
    today = today_shanghai()
    parties = []
    for p in case.parties:
        plain = reveal(p)  # shown masked only; revealing in full is a separate, audited action
        parties.append({"role": models.PARTY_ROLE_LABELS[p.role], "name": p.name,
                        "id_number": mask(plain["id_number"] or "", 4, 4), "phone": mask(plain["phone"] or "", 3, 4)})
    deadlines = [{"row": d, "label": RULE_LABELS.get(d.rule, d.rule),
                  "colour": "green" if d.met_at else colour_of(d, today),
                  "days_left": (d.due_on - today).days} for d in sorted(case.deadlines, key=lambda d: d.due_on)]
    actor = current_actor()
    actions = registry.timeline_labels(case.kind)
    return render_template("cases/detail.html", case=case, parties=parties, deadlines=deadlines,
                           events=sorted(case.events, key=lambda e: (e.at, e.id)), labels=models,
                           action_labels=actions, panels=registry.rendered_panels(case, actor))
