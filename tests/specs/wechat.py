"""Specs of the WeChat sign-in and binding routes (notify.wechat.signin, notify.wechat.binding_views)."""

from __future__ import annotations

from tests.specs.base import FormSpec


def _g1(demo):
    return {"worker_id": demo.user("qs01.g1").id}


def _grid_worker_in(j) -> int:
    """A grid worker under the requesting user's unit (an admin reaches all; others are refused anyway)."""
    from sqlalchemy import select

    from core.accounts.models import Membership, Role
    from core.org.models import OrgUnit

    stmt = (select(Membership.user_id).join(OrgUnit, Membership.unit_id == OrgUnit.id)
            .where(Membership.role == Role.grid_worker).order_by(Membership.user_id))
    if j.unit is not None and j.unit.tier in ("village", "grid"):
        stmt = stmt.where(OrgUnit.path.startswith(j.unit.path))
    return j.db.session.scalar(stmt.limit(1))


FORM_SPECS = {
    "wechat_binding.issue": FormSpec("qs01.cadre", _g1, lambda demo: f"/wechat/binding-codes/{demo.user('qs01.g1').id}"),
}

URL_PARAMS = {
    # a well-formed code that was never issued: the landing page answers the same for any code
    "code": lambda j: "ABCDEFGHJK",
    "worker_id": _grid_worker_in,
}
