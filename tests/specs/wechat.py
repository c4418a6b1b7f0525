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


WECOM_UA = "Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 Mobile Safari/537.36 wxwork/4.1.22 MicroMessenger/7.0.1"


def _code(demo) -> str:
    """A live binding code for qs01.g1 (issued once per test by the console)."""
    if getattr(demo, "_binding_code", None) is None:
        from core.actor import Actor
        from notify.bindings import issue_binding_code

        demo._binding_code = issue_binding_code(demo.user("qs01.g1"), actor=Actor.system("cli"), ttl_hours=24)
        demo.db.session.commit()
    return demo._binding_code


FORM_SPECS = {
    "wechat_binding.issue": FormSpec("qs01.cadre", _g1, lambda demo: f"/wechat/binding-codes/{demo.user('qs01.g1').id}"),
    # The phone's proof of who it belongs to, inside WeCom (anonymous: the phone is not signed in yet).
    "wechat_signin.prove": FormSpec(None, lambda demo: {"code": _code(demo)}, lambda demo: f"/wechat/bind/{_code(demo)}",
                                    schema="notify.wechat.signin.BindProofArgs",
                                    valid=lambda demo: {"password": "Shifan#2026"},
                                    environ={"HTTP_USER_AGENT": WECOM_UA}, success_status=200),
    "wechat_signin.send_otp": FormSpec(None, lambda demo: {"code": _code(demo)},
                                       lambda demo: f"/wechat/bind/{_code(demo)}",
                                       environ={"HTTP_USER_AGENT": WECOM_UA}),
}

URL_PARAMS = {
    # a well-formed code that was never issued: the landing page answers the same for any code
    "code": lambda j: "ABCDEFGHJK",
    "worker_id": _grid_worker_in,
}
