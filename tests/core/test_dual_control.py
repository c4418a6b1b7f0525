"""三权分立, dual control: none of the three administrators resets the credentials of, disables, or binds a device
to another administrator alone. One requests, the third approves (never the requester, never the target, never
someone of the requester's or the target's role), then it is carried out — each step audited and announced. The
server console's break-glass is the recovery path, announced to every administrator.

Each attacker's request must fail and change nothing (tests/core/attack_support)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts.models import AdminRequest, AdminRequestStatus, Role
from core.accounts.passwords import verify_password
from core.audit.models import AuditEntry
from tests.conftest import DEMO_PASSWORD, login
from tests.core.attack_support import Watch, notifications_to, post_form, sessions_of

NEW_PASSWORD = "Vergessen#2026x"


def _request(db, demo, requester: str, kind: str, target: str, **kw) -> AdminRequest:
    from core.accounts.dual_control import request_act

    req = request_act(kind=kind, target=demo.user(target), actor=demo.actor(requester), reason="测试申请", **kw)
    db.session.commit()
    return req


# --- attackers: acting alone -----------------------------------------------------------------------------------


def test_the_system_admin_cannot_reset_the_auditors_password_alone(app, db, demo, signed_in):
    """Before: POST /admin/users/<auditor>/password set the auditor's password and the system administrator
    could sign in as the auditor. Now: 403, the auditor's password, sessions and tokens untouched."""
    auditor = demo.user("auditor")
    auditor_client = signed_in("auditor")
    before_hash, before_sessions = auditor.password_hash, sessions_of(db, auditor.id)
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/users/{auditor.id}/password", {"password": NEW_PASSWORD},
                         page=f"/admin/users/{auditor.id}")
    assert response.status_code == 403 and "第三名管理员批准" in response.get_data(as_text=True)
    watch.assert_unchanged()
    assert demo.user("auditor").password_hash == before_hash and sessions_of(db, auditor.id) == before_sessions
    assert login(app.test_client(), "auditor", NEW_PASSWORD).status_code == 401
    assert auditor_client.get("/admin/audit").status_code == 200


@pytest.mark.parametrize(("path", "target"), [("disable", "secadmin"), ("disable", "auditor"),
                                              ("enable", "secadmin")])
def test_the_system_admin_cannot_disable_or_enable_another_admin_alone(db, demo, signed_in, path, target):
    """Before: POST /admin/users/<secadmin>/disable disabled the security administrator. Now: 403."""
    user = demo.user(target)
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/users/{user.id}/{path}", {}, page=f"/admin/users/{user.id}")
    assert response.status_code == 403
    watch.assert_unchanged()
    assert demo.user(target).is_active


def test_the_system_admin_cannot_end_another_admins_membership_alone(db, demo, signed_in):
    sec = demo.user("secadmin")
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/memberships/{sec.memberships[0].id}/end", {}, page=f"/admin/users/{sec.id}")
    assert response.status_code == 403
    watch.assert_unchanged()


def test_the_user_page_offers_requests_not_direct_acts_on_an_admin(demo, signed_in):
    admin = signed_in("admin")
    page = admin.get(f"/admin/users/{demo.user('auditor').id}").get_data(as_text=True)
    assert "申请重置密码" in page and "申请停用" in page
    assert f"/admin/users/{demo.user('auditor').id}/password" not in page
    clerk = admin.get(f"/admin/users/{demo.user('qs.staff').id}").get_data(as_text=True)
    assert "重置密码" in clerk and "申请重置密码" not in clerk  # ordinary accounts stay the admin's own job


# --- attackers: approving what one may not ------------------------------------------------------------------------


def test_the_requester_cannot_approve_his_own_request(db, demo, signed_in):
    req = _request(db, demo, "admin", "reset_password", "auditor", new_password=NEW_PASSWORD)
    before = demo.user("auditor").password_hash
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/requests/{req.id}/approve", {}, page="/admin/requests")
    assert response.status_code == 403 and "自己提出的申请" in response.get_data(as_text=True)
    watch.assert_unchanged()
    assert db.session.get(AdminRequest, req.id).status == AdminRequestStatus.pending
    assert demo.user("auditor").password_hash == before


def test_the_target_cannot_approve_a_request_about_himself(db, demo, signed_in):
    """The system administrator asks to disable the security administrator; the security administrator
    cannot wave it through (nor reject it) — only the auditor, the third, decides."""
    req = _request(db, demo, "admin", "disable", "secadmin")
    sec = signed_in("secadmin")
    watch = Watch(db)
    for action in ("approve", "reject"):
        response = post_form(sec, f"/admin/requests/{req.id}/{action}", {"note": "我不同意"}, page="/admin/requests")
        assert response.status_code == 403 and "针对自己账户" in response.get_data(as_text=True)
    watch.assert_unchanged()
    assert demo.user("secadmin").is_active


def test_an_administrator_of_the_requesters_role_is_not_the_third(db, demo, signed_in):
    """A second system administrator cannot approve the first one's request: the approver must hold the role
    that neither the requester nor the target holds."""
    from core.accounts.memberships import place_by_console
    from core.accounts.operations import create_user
    from core.actor import Actor

    create_user(username="admin.two", display_name="第二系统管理员", password="Zweiter#Admin26", title=None,
                actor=Actor.system("cli"), must_change=False)
    place_by_console(demo.user("admin.two"), role=Role.system_admin, place=demo.unit("示范区"),
                     actor=Actor.system("cli"))
    db.session.commit()
    req = _request(db, demo, "admin", "reset_password", "auditor", new_password=NEW_PASSWORD)
    second = signed_in("admin.two", "Zweiter#Admin26")
    watch = Watch(db)
    response = post_form(second, f"/admin/requests/{req.id}/approve", {}, page="/admin/requests")
    assert response.status_code == 403 and "第三名管理员" in response.get_data(as_text=True)
    watch.assert_unchanged()


def test_no_one_requests_for_himself_or_for_an_ordinary_account(db, demo):
    from core.accounts.dual_control import request_act
    from core.errors import PermissionDenied, ValidationFailed

    with pytest.raises(PermissionDenied):
        request_act(kind="reset_password", target=demo.user("admin"), actor=demo.actor("admin"), reason="x",
                    new_password=NEW_PASSWORD)
    with pytest.raises(ValidationFailed) as exc:
        request_act(kind="disable", target=demo.user("qs.staff"), actor=demo.actor("admin"), reason="x")
    assert "不是管理员账户" in exc.value.errors["username"][0]
    with pytest.raises(PermissionDenied):  # a clerk is no administrator
        request_act(kind="disable", target=demo.user("auditor"), actor=demo.actor("qs.staff"), reason="x")
    db.session.rollback()


# --- happy paths ---------------------------------------------------------------------------------------------


def test_reset_requested_by_the_system_admin_approved_by_the_security_admin(app, db, demo, signed_in):
    auditor = demo.user("auditor")
    auditor_session = signed_in("auditor")
    admin = signed_in("admin")
    asked = post_form(admin, "/admin/requests/new", {"kind": "reset_password", "username": "auditor",
                                                     "reason": "审计员遗忘密码，本人当面申请", "password": NEW_PASSWORD},
                      page="/admin/requests/new")
    assert asked.status_code == 302, asked.get_data(as_text=True)[:500]
    req = db.session.scalar(select(AdminRequest).order_by(AdminRequest.id.desc()))
    assert req.status == AdminRequestStatus.pending and req.requester_role == Role.system_admin
    assert req.password_hash and NEW_PASSWORD not in req.password_hash
    assert verify_password(demo.user("auditor").password_hash, DEMO_PASSWORD)  # nothing happened yet
    assert notifications_to(db, "secadmin", "accounts.admin_request")  # the third is told
    assert not notifications_to(db, "auditor", "accounts.admin_request")

    sec = signed_in("secadmin")
    listing = sec.get("/admin/requests").get_data(as_text=True)
    assert "审计员遗忘密码" in listing and "批准并执行" in listing
    approved = post_form(sec, f"/admin/requests/{req.id}/approve", {"note": "已电话核实"}, page="/admin/requests")
    assert approved.status_code == 302
    db.session.expire_all()
    req = db.session.get(AdminRequest, req.id)
    assert req.status == AdminRequestStatus.executed and req.decided_by_user_id == demo.user("secadmin").id
    assert req.password_hash is None  # the hash does not outlive its use
    auditor = demo.user("auditor")
    assert verify_password(auditor.password_hash, NEW_PASSWORD) and auditor.must_change_password
    assert auditor_session.get("/admin/audit").status_code == 302  # the old session ended
    assert login(app.test_client(), "auditor", NEW_PASSWORD).status_code == 302
    steps = [(e.action, e.actor_name) for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(["admin_request.created", "admin_request.approved", "user.password_reset",
                               "admin_request.executed"])).order_by(AuditEntry.id))]
    assert steps == [("admin_request.created", "admin"), ("admin_request.approved", "secadmin"),
                     ("user.password_reset", "secadmin"), ("admin_request.executed", "secadmin")]
    assert notifications_to(db, "auditor", "accounts.admin_request")  # the target hears of it


def test_disable_requested_by_the_system_admin_approved_by_the_auditor(db, demo, signed_in):
    req = _request(db, demo, "admin", "disable", "secadmin")
    victim = signed_in("secadmin")
    auditor = signed_in("auditor")
    assert post_form(auditor, f"/admin/requests/{req.id}/approve", {}, page="/admin/requests").status_code == 302
    db.session.expire_all()
    assert not demo.user("secadmin").is_active and sessions_of(db, demo.user("secadmin").id) == 0
    assert victim.get("/admin/security").status_code == 302
    # Re-enabling is dual control too: the system administrator asks again, the auditor approves.
    again = _request(db, demo, "admin", "enable", "secadmin")
    assert post_form(auditor, f"/admin/requests/{again.id}/approve", {}, page="/admin/requests").status_code == 302
    db.session.expire_all()
    assert demo.user("secadmin").is_active


def test_reject_and_withdraw(db, demo, signed_in):
    req = _request(db, demo, "admin", "disable", "auditor")
    sec = signed_in("secadmin")
    rejected = post_form(sec, f"/admin/requests/{req.id}/reject", {"note": "理由不充分"}, page="/admin/requests")
    assert rejected.status_code == 302
    db.session.expire_all()
    assert db.session.get(AdminRequest, req.id).status == AdminRequestStatus.rejected and demo.user("auditor").is_active
    other = _request(db, demo, "admin", "disable", "auditor")
    assert post_form(sec, f"/admin/requests/{other.id}/cancel", {}, page="/admin/requests").status_code == 403
    admin = signed_in("admin")
    assert post_form(admin, f"/admin/requests/{other.id}/cancel", {}, page="/admin/requests").status_code == 302
    db.session.expire_all()
    assert db.session.get(AdminRequest, other.id).status == AdminRequestStatus.cancelled


def test_a_lapsed_request_cannot_be_approved(db, demo, signed_in):
    from datetime import timedelta

    from core.actor import Actor
    from core.audit.operations import record
    from core.db import utcnow

    req = _request(db, demo, "admin", "disable", "auditor")
    req.created_at = utcnow() - timedelta(hours=49)  # two days pass (ADMIN_REQUEST_TTL_HOURS is 48)
    record(Actor.system("cli"), "test.time_passed", req, changed=["created_at"])
    db.session.commit()
    sec = signed_in("secadmin")
    response = post_form(sec, f"/admin/requests/{req.id}/approve", {}, page="/admin/requests")
    assert response.status_code == 422 and "有效期" in response.get_data(as_text=True)
    assert demo.user("auditor").is_active


def test_binding_a_device_to_an_admin_needs_an_approved_request(db, demo, signed_in):
    from notify.models import BindingCode

    auditor = demo.user("auditor")
    admin = signed_in("admin")
    assert admin.get(f"/wechat/binding-codes/{auditor.id}").status_code == 404  # alone: as if it did not exist
    assert db.session.scalar(select(BindingCode.id).where(BindingCode.user_id == auditor.id)) is None
    req = _request(db, demo, "admin", "bind_device", "auditor")
    assert post_form(signed_in("secadmin"), f"/admin/requests/{req.id}/approve", {},
                     page="/admin/requests").status_code == 302
    db.session.expire_all()
    assert db.session.get(AdminRequest, req.id).status == AdminRequestStatus.approved
    assert "生成绑定码" in admin.get("/admin/requests").get_data(as_text=True)
    page = admin.get(f"/wechat/binding-codes/{auditor.id}")
    assert page.status_code == 200
    issued = post_form(admin, f"/wechat/binding-codes/{auditor.id}", {}, page=f"/wechat/binding-codes/{auditor.id}")
    assert issued.status_code == 302
    assert 'id="binding-code"' in admin.get(f"/wechat/binding-codes/{auditor.id}").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(AdminRequest, req.id).status == AdminRequestStatus.executed
    assert admin.get(f"/wechat/binding-codes/{auditor.id}").status_code == 404  # one approval, one code
    # His own phone he binds alone: the code still needs his own password on the phone.
    assert admin.get(f"/wechat/binding-codes/{demo.user('admin').id}").status_code == 200


def test_withdrawing_a_mere_proposal_for_an_admin_needs_no_request(db, demo, signed_in):
    from core.accounts.memberships import propose_membership
    from core.accounts.models import Membership, MembershipStatus

    m = propose_membership(demo.user("auditor"), role=Role.district_leader, place=demo.unit("示范区"),
                           actor=demo.actor("admin"))
    db.session.commit()
    admin = signed_in("admin")
    assert post_form(admin, f"/admin/memberships/{m.id}/end", {}, page="/admin/users").status_code == 302
    db.session.expire_all()
    assert db.session.get(Membership, m.id).status == MembershipStatus.ended


# --- break-glass -----------------------------------------------------------------------------------------------


def test_break_glass_resets_a_locked_out_admin_and_tells_every_admin(app, db, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "break-glass", "--username", "secadmin", "--action", "reset-password",
                                 "--reason", "安全管理员离职交接，账户无法登录"])
    assert result.exit_code == 0, result.output
    assert "已通知 3 名管理员" in result.output
    temporary = result.output.split("临时密码（只显示这一次，首次登录须修改）：", 1)[1].strip()
    db.session.expire_all()
    sec = demo.user("secadmin")
    assert verify_password(sec.password_hash, temporary) and sec.must_change_password
    assert login(app.test_client(), "secadmin", temporary).status_code == 302
    req = db.session.scalar(select(AdminRequest).where(AdminRequest.channel == "cli"))
    assert req.requested_by_user_id is None and req.status == AdminRequestStatus.executed
    assert req.password_hash is None and temporary not in result.output.split("临时密码")[0]
    rows = [(e.action, e.actor_name) for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(["accounts.break_glass", "user.password_reset"])).order_by(AuditEntry.id))]
    assert rows[-2:] == [("accounts.break_glass", "system:cli"), ("user.password_reset", "system:cli")]
    for username in ("admin", "auditor"):
        (told,) = notifications_to(db, username, "accounts.break_glass")
        assert "安全管理员离职交接" in told.payload["body"] and told.priority == "urgent"
    assert notifications_to(db, "secadmin", "accounts.admin_request")  # the target is told too
    assert temporary not in str([n.payload for n in notifications_to(db, "admin", "accounts.break_glass")])


def test_break_glass_is_for_administrators_only_and_changes_nothing_otherwise(app, db, demo):
    watch = Watch(db)
    result = app.test_cli_runner().invoke(args=["accounts", "break-glass", "--username", "qs.staff",
                                                "--action", "reset-password", "--reason", "试图绕过"])
    assert result.exit_code != 0 and "只用于管理员账户" in result.output
    watch.assert_unchanged(refusal=None)


def test_break_glass_enables_and_unlocks(app, db, demo):
    from core.accounts.models import LoginThrottle
    from core.accounts.operations import apply_active, throttle_key
    from core.actor import Actor

    apply_active(demo.user("auditor"), False, actor=Actor.system("cli"))
    db.session.commit()
    for _ in range(5):
        login(app.test_client(), "auditor", "Falsch#Passwort1")
    assert db.session.get(LoginThrottle, throttle_key("auditor", "127.0.0.1")).locked_until is not None
    runner = app.test_cli_runner()
    assert runner.invoke(args=["accounts", "break-glass", "--username", "auditor", "--action", "enable",
                               "--reason", "误停用"]).exit_code == 0
    assert runner.invoke(args=["accounts", "break-glass", "--username", "auditor", "--action", "unlock",
                               "--reason", "锁定"]).exit_code == 0
    db.session.expire_all()
    assert demo.user("auditor").is_active and db.session.get(LoginThrottle, throttle_key("auditor", "127.0.0.1")) is None
    assert login(app.test_client(), "auditor", DEMO_PASSWORD).status_code == 302
