"""Registry specs of 三权分立's pages: pending memberships (the security administrator activates what the system
administrator proposed) and requests between administrators (core.accounts.dual_control)."""

from __future__ import annotations

from tests.specs.base import FormSpec


def _proposed(demo):
    """A membership the system administrator proposed for qs01.cadre (once per test)."""
    from core.accounts.models import MembershipStatus, Role

    cadre = demo.user("qs01.cadre")
    found = next((m for m in cadre.memberships if m.status == MembershipStatus.proposed), None)
    if found is None:
        from core.accounts.memberships import propose_membership

        found = propose_membership(cadre, role=Role.village_cadre, place=demo.unit("上坝村"), actor=demo.actor("admin"))
        demo.db.session.commit()
    return found


def _pending_request(db, kind="disable"):
    """A pending request of the system administrator's to disable the auditor (once per test)."""
    from sqlalchemy import select

    from core.accounts.models import AdminRequest, AdminRequestStatus, User
    from core.actor import Actor

    found = db.session.scalar(select(AdminRequest).where(AdminRequest.status == AdminRequestStatus.pending)
                              .order_by(AdminRequest.id))
    if found is None:
        from core.accounts.dual_control import request_act

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        auditor = db.session.scalar(select(User).where(User.username == "auditor"))
        found = request_act(kind=kind, target=auditor, actor=Actor.for_user(admin), reason="规格测试")
        db.session.commit()
    return found


def _request_param(demo):
    return {"request_id": _pending_request(demo.db).id}


FORM_SPECS = {
    "users.activate_membership": FormSpec("secadmin", lambda demo: {"membership_id": _proposed(demo).id},
                                          lambda demo: "/admin/memberships/pending"),
    "users.refuse_membership": FormSpec(
        "secadmin", lambda demo: {"membership_id": _proposed(demo).id}, lambda demo: "/admin/memberships/pending",
        schema="core.accounts.schemas.DecisionNoteArgs", valid=lambda demo: {"note": "与实际岗位不符"}),
    "admin_requests.new": FormSpec(
        "admin", page=lambda demo: "/admin/requests/new", schema="core.accounts.schemas.AdminRequestArgs",
        valid=lambda demo: {"kind": "reset_password", "username": "auditor", "reason": "本人遗忘密码",
                            "password": "Neu#Passwort2026", "membership_id": ""}),
    "admin_requests.approve": FormSpec("secadmin", _request_param, lambda demo: "/admin/requests",
                                       schema="core.accounts.schemas.ApproveArgs",
                                       valid=lambda demo: {"note": "已当面核实"}),
    "admin_requests.reject": FormSpec("secadmin", _request_param, lambda demo: "/admin/requests",
                                      schema="core.accounts.schemas.DecisionNoteArgs",
                                      valid=lambda demo: {"note": "理由不充分"}),
    "admin_requests.cancel": FormSpec("admin", _request_param, lambda demo: "/admin/requests"),
}

URL_PARAMS = {
    "request_id": lambda j: _pending_request(j.db).id,
}


def _screens():
    from tests.browser.screens import Screen

    return [
        Screen("pending-memberships", "secadmin", "/admin/memberships/pending", "待激活岗位"),
        Screen("admin-requests", "auditor", "/admin/requests", "管理员操作审批"),
        Screen("admin-request-new", "admin", "/admin/requests/new", "申请管理员账户操作"),
    ]


SCREENS = _screens()
