"""The case page: facts, parties (masked), deadlines and the timeline — one record for life."""

from __future__ import annotations

from flask import Blueprint, render_template

from center.cases import models, registry
from center.cases.intake.operations import reveal
from center.cases.presenters import deadline_rows, today_shanghai
from center.cases.queries import can_see, get_case_by_number_or_404
from core.auth.decorators import permission
from core.crypto import mask
from core.web import current_actor

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")

#: How much of the earlier case's summary the 重复件 line shows.
REPEAT_SUMMARY_CHARS = 30


def short_summary(text: str, limit: int = REPEAT_SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


def repeat_line(case, actor) -> dict | None:
    """The earlier case this one repeats: number, short summary and a link when the actor may see it; the
    number alone otherwise (nothing of a case outside the actor's sight, not even its summary)."""
    earlier = case.repeat_of
    if earlier is None:
        return None
    if not can_see(actor, earlier):
        return {"number": earlier.number, "summary": None, "visible": False}
    return {"number": earlier.number, "summary": short_summary(earlier.summary), "visible": True}


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
    deadlines = deadline_rows(case, today)
    actor = current_actor()
    actions = registry.timeline_labels(case.kind)
    return render_template("cases/detail.html", case=case, parties=parties, deadlines=deadlines,
                           repeat=repeat_line(case, actor),
                           events=sorted(case.events, key=lambda e: (e.at, e.id)), labels=models,
                           action_labels=actions, panels=registry.rendered_panels(case, actor))
