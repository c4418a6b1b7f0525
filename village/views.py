"""Village cadre desk (the grid worker's phone pages live in village/mobile.py)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.accounts.queries import grid_workers
from core.auth.decorators import permission
from core.desk import desk_unit
from core.org import queries as org_queries
from core.web import current_actor

bp = Blueprint("village", __name__, template_folder="templates")


@bp.route("/village/")
@permission("desk.village")
def index():
    actor = current_actor()
    village = desk_unit(actor, "desk.village", request.args.get("unit", type=int))
    grids = org_queries.list_units(actor, parent=village)
    workers = {}
    if grids:
        for user, grid in grid_workers(unit_ids=[g.id for g in grids]):
            workers.setdefault(grid.id, []).append(user.display_name)
    from center.cases.listing.queues import desk_cases

    return render_template("village/desk.html", village=village, grids=grids, workers=workers,
                           **desk_cases(actor, unit=village))
