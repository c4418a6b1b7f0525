"""Home (each role lands on its own desk) and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user

from core.auth.decorators import permission, public

bp = Blueprint("home", __name__)

#: Where each role starts, by (role, tier of the unit) — first match wins.
ROLE_HOME = [
    ("system_admin", None, "org.units"),
    ("security_admin", None, "users.security_policy"),
    ("auditor", None, "audit.index"),
    ("district_leader", None, "center_desk.index"),
    ("center_staff", "district", "center_desk.index"),
    ("center_staff", "township", "township.index"),
    ("township_leader", None, "township.index"),
    ("township_staff", None, "township.index"),
    ("village_head", None, "village.index"),
    ("village_cadre", None, "village.index"),
    ("grid_worker", None, "mobile.home"),
    ("department_head", None, "center_desk.department"),
    ("department_liaison", None, "center_desk.department"),
]


def home_endpoint(membership) -> str:
    tier = membership.unit.tier if membership.unit is not None else None
    for role, want_tier, endpoint in ROLE_HOME:
        if membership.role == role and (want_tier is None or want_tier == tier):
            return endpoint
    return "accounts.profile"


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    from core.web import current_actor

    actor = current_actor()
    if not actor.memberships:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for(home_endpoint(actor.memberships[0])))


@bp.route("/healthz")
@public
def healthz():
    from core.db import ping

    try:
        ping()
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/switch/<int:membership_id>")
@permission("account.self")
def switch(membership_id: int):
    """Open the desk of another of the user's memberships."""
    from core.errors import NotFound
    from core.web import current_actor

    for m in current_actor().memberships:
        if m.id == membership_id:
            return redirect(url_for(home_endpoint(m)))
    raise NotFound()
