"""Village cadre desk (the grid worker's phone pages live in village/mobile.py)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from core.accounts.models import Membership, Role, User
from core.auth.decorators import permission
from core.db import db
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
        rows = db.session.execute(
            select(Membership.unit_id, User.display_name).join(User, User.id == Membership.user_id)
            .where(Membership.unit_id.in_([g.id for g in grids]), Membership.role == Role.grid_worker,
                   Membership.is_active.is_(True), User.is_active.is_(True)).order_by(User.display_name))
        for unit_id, name in rows:
            workers.setdefault(unit_id, []).append(name)
    from center.cases.listing.queues import desk_cases

    return render_template("village/desk.html", village=village, grids=grids, workers=workers,
                           **desk_cases(actor, unit=village))
