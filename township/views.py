"""Township-center desk."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.accounts.queries import grid_worker_counts
from core.auth.decorators import permission
from core.desk import desk_unit
from core.org import queries as org_queries
from core.web import current_actor

bp = Blueprint("township", __name__, url_prefix="/township", template_folder="templates")


@bp.route("/")
@permission("desk.township")
def index():
    actor = current_actor()
    township = desk_unit(actor, "desk.township", request.args.get("unit", type=int))
    villages = org_queries.list_units(actor, parent=township)
    counts = org_queries.child_counts(township, villages)
    workers_by_village = grid_worker_counts(township)
    from center.cases.listing.queues import desk_cases

    return render_template("township/desk.html", township=township, villages=villages, counts=counts,
                           workers=workers_by_village,
                           departments=org_queries.list_departments(actor, unit=township), **desk_cases(actor, unit=township))
