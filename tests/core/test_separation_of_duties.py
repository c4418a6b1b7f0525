"""三权分立, memberships: the system administrator proposes, the security administrator activates; a proposed
membership grants nothing; nobody activates a role for themselves or one they proposed; one account never holds
two administrator roles. The first administrators come from `flask accounts create-admin` (activated by the
console, audited), the demo district's memberships likewise.

Each attacker's request is sent as the attacker would and must fail and change nothing (tests/core/attack_support).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts.models import Membership, MembershipStatus, Role
from core.audit.models import AuditEntry
from tests.conftest import csrf_from
from tests.core.attack_support import Watch, post_form


def _user_page(_client, user):
    return f"/admin/users/{user.id}"


# --- attackers ---------------------------------------------------------------------------------------------------


def test_the_system_admin_cannot_grant_himself_the_auditor_role(db, demo, signed_in):
    """Before: POST /admin/users/<admin>/memberships role=auditor added an active auditor membership and
    /admin/audit answered 200 to him. Now: 403, no membership row, and the audit log stays closed to him."""
    admin_user = demo.user("admin")
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/users/{admin_user.id}/memberships",
                         {"role": "auditor", "unit_code": demo.unit("示范区").code}, page=_user_page(admin, admin_user))
    assert response.status_code == 403
    assert "不能为自己的账户提议岗位" in response.get_data(as_text=True)
    watch.assert_unchanged()
    assert admin.get("/admin/audit").status_code == 403
    assert {m.role for m in demo.user("admin").memberships} == {Role.system_admin}


def test_another_admin_role_is_refused_even_when_proposed_by_someone_else(db, demo, signed_in):
    """One account never holds two of the three administrator roles (the security admin cannot become the
    auditor through a colleague's proposal either)."""
    admin = signed_in("admin")
    sec = demo.user("secadmin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/users/{sec.id}/memberships",
                         {"role": "auditor", "unit_code": demo.unit("示范区").code}, page=f"/admin/users/{sec.id}")
    # the web places no administrator post at all (console only), so this is refused before exclusivity
    assert response.status_code == 403 and "服务器控制台" in response.get_data(as_text=True)
    watch.assert_unchanged()


def test_a_proposed_membership_grants_nothing(db, demo, signed_in):
    """The system administrator creates a clerk's account: until the security administrator activates it the
    new account files nothing (before: the membership was in force at once)."""
    from core.actor import Actor
    from core.auth.permissions import has_permission

    admin = signed_in("admin")
    created = post_form(admin, "/admin/users/new", {
        "username": "audit.two", "display_name": "新受理员", "password": "Pruefer#2026x", "role": "center_staff",
        "unit_code": demo.unit("示范区").code, "kind": "person"}, page="/admin/users/new")
    assert created.status_code == 302, created.get_data(as_text=True)[:300]
    user = demo.user("audit.two")
    (m,) = user.memberships
    assert m.status == MembershipStatus.proposed and not m.is_effective and not m.is_active
    assert m.proposed_by_user_id == demo.user("admin").id and m.decided_at is None
    assert Actor.for_user(user).memberships == ()
    assert not has_permission(Actor.for_user(user), "case.intake")
    assert db.session.scalar(select(Membership.id).where(Membership.user_id == user.id,
                                                         Membership.is_active.is_(True))) is None
    # The security administrator activates it: now, and only now, the account is an auditor.
    sec = signed_in("secadmin")
    assert post_form(sec, f"/admin/memberships/{m.id}/activate", {}, page="/admin/memberships/pending"
                     ).status_code == 302
    db.session.expire_all()
    assert has_permission(Actor.for_user(demo.user("audit.two")), "case.intake")


def test_the_system_admin_cannot_activate_a_membership_he_proposed(db, demo, signed_in):
    """Before: the system administrator's own proposal was in force at once. Now he cannot activate it — the
    route needs membership.activate, and the operation refuses a proposer even if he held it."""
    from core.accounts.memberships import activate_membership, propose_membership
    from core.actor import Actor
    from core.errors import PermissionDenied

    m = propose_membership(demo.user("qs01.cadre"), role=Role.village_cadre, place=demo.unit("上坝村"),
                           actor=demo.actor("admin"))
    db.session.commit()
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/memberships/{m.id}/activate", {})
    assert response.status_code == 403
    watch.assert_unchanged()
    # Defence in depth: an actor holding both powers (no such account can exist) is still refused.
    admin_m = demo.user("admin").memberships[0]
    sec_m = demo.user("secadmin").memberships[0]
    both = Actor(user=demo.user("admin"), memberships=(admin_m, sec_m), user_id=demo.user("admin").id, name="admin")
    with pytest.raises(PermissionDenied) as exc:
        activate_membership(m, actor=both)
    assert "自己提议" in exc.value.message
    db.session.rollback()
    assert db.session.get(Membership, m.id).status == MembershipStatus.proposed


def test_the_security_admin_cannot_activate_his_own_membership(db, demo, signed_in):
    """Before: there was no activation step at all. Now the security administrator's own pending membership is
    refused to him (another security administrator or the console must activate it)."""
    from core.accounts.memberships import propose_membership

    m = propose_membership(demo.user("secadmin"), role=Role.district_leader, place=demo.unit("示范区"),
                           actor=demo.actor("admin"))
    db.session.commit()
    sec = signed_in("secadmin")
    watch = Watch(db)
    response = post_form(sec, f"/admin/memberships/{m.id}/activate", {}, page="/admin/memberships/pending")
    assert response.status_code == 403 and "不能激活或拒绝自己的岗位" in response.get_data(as_text=True)
    watch.assert_unchanged()
    refused = post_form(sec, f"/admin/memberships/{m.id}/refuse", {"note": "自己拒绝自己"},
                        page="/admin/memberships/pending")
    assert refused.status_code == 403
    assert db.session.get(Membership, m.id).status == MembershipStatus.proposed


@pytest.mark.parametrize("username", ["auditor", "qs.staff", "leader.wang", "qs01.head"])
def test_nobody_but_the_security_admin_reaches_the_pending_page(signed_in, username):
    client = signed_in(username)
    assert client.get("/admin/memberships/pending").status_code == 403


# --- happy paths -----------------------------------------------------------------------------------------------


def test_proposed_by_the_system_admin_activated_by_the_security_admin(db, demo, signed_in, app):
    from tests.conftest import login

    admin = signed_in("admin")
    cadre = demo.user("qs02.cadre")
    response = post_form(admin, f"/admin/users/{cadre.id}/memberships",
                         {"role": "village_cadre", "unit_code": demo.unit("青石村").code}, page=f"/admin/users/{cadre.id}")
    assert response.status_code == 302
    m = next(m for m in demo.user("qs02.cadre").memberships if m.status == MembershipStatus.proposed)
    worker = app.test_client()
    assert login(worker, "qs02.cadre").status_code == 302
    assert "青石村" not in worker.get("/account").get_data(as_text=True)

    sec = signed_in("secadmin")
    pending = sec.get("/admin/memberships/pending").get_data(as_text=True)
    assert "qs02.cadre" in pending and "青石村" in pending and "admin" in pending
    activated = post_form(sec, f"/admin/memberships/{m.id}/activate", {}, page="/admin/memberships/pending")
    assert activated.status_code == 302
    db.session.expire_all()
    m = db.session.get(Membership, m.id)
    assert m.status == MembershipStatus.active and m.is_effective
    assert m.decided_by_user_id == demo.user("secadmin").id and m.decided_at is not None
    assert "青石村" in worker.get("/account").get_data(as_text=True)  # in force at the next request
    actions = [(e.action, e.actor_name) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "memberships", AuditEntry.object_id == str(m.id))
        .order_by(AuditEntry.id))]
    assert actions == [("membership.proposed", "admin"), ("membership.activated", "secadmin")]


def test_the_security_admin_refuses_with_a_reason(db, demo, signed_in):
    from core.accounts.memberships import propose_membership

    m = propose_membership(demo.user("qs02.cadre"), role=Role.village_cadre, place=demo.unit("青石村"),
                           actor=demo.actor("admin"))
    db.session.commit()
    sec = signed_in("secadmin")
    empty = post_form(sec, f"/admin/memberships/{m.id}/refuse", {"note": ""}, page="/admin/memberships/pending")
    assert empty.status_code == 422 and "此项为必填项" in empty.get_data(as_text=True)
    refused = post_form(sec, f"/admin/memberships/{m.id}/refuse", {"note": "此人不在本村任职"},
                        page="/admin/memberships/pending")
    assert refused.status_code == 302
    db.session.expire_all()
    m = db.session.get(Membership, m.id)
    assert m.status == MembershipStatus.refused and not m.is_effective and m.decision_note == "此人不在本村任职"
    again = post_form(sec, f"/admin/memberships/{m.id}/activate", {}, page="/admin/memberships/pending")
    assert again.status_code == 422 and "不能再处理" in again.get_data(as_text=True)


def test_the_demo_district_starts_with_every_membership_activated_by_the_console(db):
    memberships = db.session.scalars(select(Membership)).all()
    assert memberships and all(m.status == MembershipStatus.active and m.decided_at is not None
                               for m in memberships if m.user.username != "nomember.tester")
    activations = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "membership.activated",
                                                                AuditEntry.actor_name == "system:cli").limit(1))
    assert activations is not None


def test_create_admin_on_the_console_activates_and_audits(app, db, demo, signed_in):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "create-admin", "--district", demo.unit("示范区").code,
                                 "--username", "sec.two", "--role", "security_admin"],
                           input="Sicher#Heit2026\nSicher#Heit2026\n")
    assert result.exit_code == 0, result.output
    assert "已创建并启用" in result.output
    user = demo.user("sec.two")
    (m,) = user.memberships
    assert m.status == MembershipStatus.active and m.proposed_by_user_id is None and m.decided_by_user_id is None
    rows = {(e.action, e.actor_name) for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "memberships", AuditEntry.object_id == str(m.id)))}
    assert rows == {("membership.proposed", "system:cli"), ("membership.activated", "system:cli")}
    client = signed_in("sec.two", "Sicher#Heit2026")
    page = client.get("/account/password")
    changed = client.post("/account/password", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "current_password": "Sicher#Heit2026",
        "new_password": "Neu#Sicher2027", "confirm_password": "Neu#Sicher2027"})
    assert changed.status_code == 302
    assert client.get("/admin/memberships/pending").status_code == 200
