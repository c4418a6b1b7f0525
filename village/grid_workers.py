"""The village cadre's list of grid workers under their village, with their WeChat binding state and the
link to issue a one-time binding code (notify.wechat.binding_views)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from core.accounts.queries import grid_workers
from core.auth.decorators import permission
from core.auth.scoping import unit_filter
from core.db import db
from core.org.models import OrgUnit
from core.web import current_actor
from notify.models import Binding, BindingState

bp = Blueprint("village_grid", __name__, url_prefix="/village/grid-workers")


@bp.route("/")
@permission("grid.bind")
def index():
    actor = current_actor()
    rows = grid_workers(where=unit_filter(actor, "grid.bind", OrgUnit.path))
    bound = {}
    if rows:
        for b in db.session.scalars(select(Binding).where(Binding.user_id.in_([u.id for u, _ in rows]),
                                                          Binding.state == BindingState.verified)):
            bound.setdefault(b.user_id, set()).add(str(b.platform))
    return render_template("village/grid_workers.html", rows=rows, bound=bound)
