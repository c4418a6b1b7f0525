"""Township-center desk."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from core.accounts.models import Membership, Role, User
from core.auth.decorators import permission
from core.auth.scoping import subtree_clause
from core.db import db
from core.desk import desk_unit
from core.org import queries as org_queries
from core.org.models import OrgUnit
from core.web import current_actor

bp = Blueprint("township", __name__, url_prefix="/township", template_folder="templates")


@bp.route("/")
@permission("desk.township")
def index():
    actor = current_actor()
    township = desk_unit(actor, "desk.township", request.args.get("unit", type=int))
    villages = org_queries.list_units(actor, parent=township)
    counts = {v.id: org_queries.subtree_counts(v) for v in villages}
    grid_workers = db.session.execute(
        select(OrgUnit.parent_id, User.display_name)
        .join(Membership, Membership.unit_id == OrgUnit.id).join(User, User.id == Membership.user_id)
        .where(subtree_clause(OrgUnit.path, township.path), Membership.role == Role.grid_worker,
               Membership.is_active.is_(True), User.is_active.is_(True))).all()
    workers_by_village: dict[int, int] = {}
    for village_id, _name in grid_workers:
        workers_by_village[village_id] = workers_by_village.get(village_id, 0) + 1
    from center.cases.listing.queues import desk_cases

    return render_template("township/desk.html", township=township, villages=villages, counts=counts,
                           workers=workers_by_village,
                           departments=org_queries.list_departments(actor, unit=township), **desk_cases(actor, unit=township))
