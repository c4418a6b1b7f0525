"""Security review of issue 9, accounts side (三权分立, "no account can act as another"): each test is a hole found by
attacking the change as one of the administrators. Each asserts the secure behaviour, so it fails while the hole
is open."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import csrf_from
from tests.core.attack_support import notifications_to


def test_system_admin_cannot_read_the_grid_workers_binding_proof_code(app, db, demo, signed_in):
    """admin issues a WeChat binding code for the grid worker qs01.g1 (user.manage lets him), opens the binding
    link on his own phone and asks for the one-time proof code "sent to the grid worker's own channel"; the
    code is queued as a notification whose body says "验证码 123456", and the notification admin page
    (/admin/notify/notifications/<id>, notify.manage) shows that body to him. He types it on his phone: the proof
    passes, his WeChat is bound to the grid worker and he is signed in as them (holes:
    notify/binding_proof.py send_proof_code puts the secret in the payload body; notify/views.py notification +
    notify/templates/notify/notification.html render it to the administrator).

    Secure: no page an administrator can open shows the proof code."""
    from notify.bindings import issue_binding_code
    from tests.notify.test_wechat_signin import WECHAT_UA

    worker = demo.user("qs01.g1")
    code = issue_binding_code(worker, actor=demo.actor("admin"), ttl_hours=24)
    db.session.commit()
    phone = app.test_client()
    page = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    sent = phone.post(f"/wechat/bind/{code}/otp", data={"csrf_token": token}, headers={"User-Agent": WECHAT_UA})
    assert sent.status_code == 302
    [notification] = notifications_to(db, "qs01.g1", "wechat.bind_proof_code")
    otp = re.search(r"(\d{6})", notification.payload["body"]).group(1)

    admin = signed_in("admin")
    shown = admin.get(f"/admin/notify/notifications/{notification.id}")
    listing = admin.get("/admin/notify/?q=qs01.g1")
    assert otp not in shown.get_data(as_text=True), "the administrator reads the grid worker's proof code"
    assert otp not in listing.get_data(as_text=True)
    assert "含一次性验证码" in shown.get_data(as_text=True)


def test_system_admin_cannot_make_himself_a_puppet_security_admin_to_approve_his_own_requests(app, db, demo):
    """admin creates a new account "sec.new" with the role 安全管理员 and an initial password he chose; secadmin
    activates the membership (a new colleague, as the pending list shows it); admin signs in as sec.new with
    the password he set and is now "the third administrator" for his own dual-control request: he asks to reset
    the auditor's password and approves it as sec.new. The auditor's password is reset by the system
    administrator alone (holes: core/accounts/memberships.py propose_membership/activate_membership let an
    administrator role be placed through the web on an account whose credential the system administrator
    set — one security-admin click, no dual control; core/accounts/dual_control.py approval_refusal only looks
    at roles).

    Secure: at least one step of this chain is refused, and the auditor's password is unchanged."""
    from core.accounts import dual_control, memberships
    from core.accounts.models import Role, User
    from core.accounts.operations import create_user
    from core.actor import Actor
    from core.errors import DomainError

    auditor = demo.user("auditor")
    old_hash = auditor.password_hash
    chosen = "Puppet#2026x"
    steps = []

    def attempt(name, fn):
        try:
            with db.session.begin_nested():
                result = fn()
            steps.append((name, "done"))
            return result
        except DomainError as exc:
            steps.append((name, f"refused: {exc}"))
            return None

    puppet = attempt("create", lambda: create_user(
        username="sec.new", display_name="新安全管理员", password=chosen, title="信息中心",
        actor=demo.actor("admin"), memberships=[(Role.security_admin, demo.unit("示范区"))]))
    if puppet is not None:
        m = next(m for m in puppet.memberships if m.role == Role.security_admin)
        attempt("activate", lambda: memberships.activate_membership(m, actor=demo.actor("secadmin")))
    req = attempt("request", lambda: dual_control.request_act(
        kind="reset_password", target=auditor, actor=demo.actor("admin"), reason="审计员忘记密码",
        new_password="Reset#2026xyz"))
    db.session.commit()
    if puppet is not None and req is not None:
        db.session.expire_all()
        puppet = db.session.scalar(select(User).where(User.username == "sec.new"))
        from core.accounts.passwords import verify_password

        assert verify_password(puppet.password_hash, chosen)  # admin knows the puppet's credential
        attempt("approve", lambda: dual_control.approve(req, actor=Actor.for_user(puppet, channel="web")))
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, auditor.id).password_hash == old_hash, steps
