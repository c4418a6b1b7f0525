"""District-center desk and the department liaison's queue."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.auth.decorators import permission
from core.auth.permissions import granting
from core.desk import desk_unit
from core.org import queries as org_queries
from core.web import current_actor

bp = Blueprint("center_desk", __name__, url_prefix="/center", template_folder="templates")


@bp.route("/")
@permission("desk.district")
def index():
    actor = current_actor()
    district = desk_unit(actor, "desk.district")
    townships = org_queries.list_units(actor, parent=district)
    counts = org_queries.child_counts(district, townships)
    departments = org_queries.list_departments(actor, unit=district)
    from center.cases.listing.queues import desk_cases

    return render_template("center/desk.html", district=district, townships=townships, counts=counts,
                           totals=org_queries.subtree_counts(district), departments=departments,
                           **desk_cases(actor, unit=district))


@bp.route("/department")
@permission("desk.department")
def department():
    actor = current_actor()
    departments = [m.department for m in granting(actor, "desk.department") if m.department is not None]
    departments = list({d.id: d for d in departments}.values())  # a head and liaison of one department: once
    from center.cases.presenters import next_deadlines
    from center.departments.queries import desk_queues, organ_cases

    queues = desk_queues(actor, departments)
    organ = organ_cases(actor, departments)
    return render_template("center/department.html", departments=departments, organ=organ,
                           deadlines=next_deadlines(queues.pop("live_cases") + organ), **queues)
