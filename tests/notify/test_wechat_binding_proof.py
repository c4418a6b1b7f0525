"""WeChat binding under 三权分立: a one-time binding code issued by someone else (a village cadre, an administrator)
binds nothing and signs no one in by itself; the grid worker proves once on that phone who they are — their
password, or a code sent to a channel they already have — and the new binding is announced on their existing
channels and audited. Silent sign-in of an already bound grid worker keeps working; a service account never signs
in through WeChat.

Through the fake's real OAuth pages, as in test_wechat_signin.py."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from core.actor import Actor
from notify.models import Binding, BindingCode, Notification
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.core.attack_support import Watch, notifications_to, sessions_of
from tests.notify.test_wechat_signin import (
    DESKTOP_UA,
    WECHAT_UA,
    WECOM_UA,
    _path,
    authorize,
    continue_url,
    prove_and_bind,
    silent_sign_in,
)


@pytest.fixture()
def wx_users(fake_wechat):
    original = fake_wechat.control("GET", "seed")
    fake_wechat.control("POST", "seed", json={"work": {"users": ["qs01.g1", "qs01.g2", "svc.bound"],
                                                       "guests": []}})
    yield
    fake_wechat.control("POST", "seed", json={"work": {"users": original["work"]["users"],
                                                       "guests": original["work"].get("guests", [])}})


def _code_for(db, demo, username="qs01.g1", issuer="qs01.cadre") -> str:
    from notify.bindings import issue_binding_code

    code = issue_binding_code(demo.user(username), actor=demo.actor(issuer), ttl_hours=24)
    db.session.commit()
    return code


def _bound(db, openid: str):
    db.session.expire_all()
    return db.session.scalar(select(Binding).where(Binding.external_index == openid))


# --- attackers -----------------------------------------------------------------------------------------------


def test_a_binding_code_without_the_grid_workers_proof_gives_no_session(app, db, demo, wx_users):
    """Before: whoever held the code (the cadre who issued it, or an admin) opened /wechat/bind/<code> inside
    WeChat, authorised, and came back signed in as the grid worker. Now the link only asks for the worker's
    proof; a callback carrying the binding without it (the old flow, replayed by hand) is refused: no binding,
    no session, the code not even spent."""
    from notify.wechat import oauth

    worker = demo.user("qs01.g1")
    code = _code_for(db, demo)
    attacker = app.test_client()
    page = attacker.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    assert page.status_code == 200 and "登录密码" in page.get_data(as_text=True)  # no redirect to WeChat
    sessions_before = sessions_of(db, worker.id)
    watch = Watch(db)
    state = "forged-state-" + "x" * 24
    with attacker.session_transaction() as sess:  # the pending binding the old /wechat/bind/<code> started
        sess[oauth.SESSION_KEY] = {"state": state, "platform": "mp", "next": "/m/", "bind": code,
                                   "at": int(time.time())}
    location = oauth.authorize_url(app.config, "mp", "http://localhost/wechat/oauth/callback", state)
    back = authorize(location, fake_openid="o_attackers_phone")
    done = attacker.get(_path(back), headers={"User-Agent": WECHAT_UA})
    assert done.status_code == 403 and "证明是您本人" in done.get_data(as_text=True)
    watch.assert_unchanged(refusal="unproven")
    assert _bound(db, "o_attackers_phone") is None
    assert sessions_of(db, worker.id) == sessions_before
    assert attacker.get("/m/", headers={"User-Agent": DESKTOP_UA}).status_code == 302  # still anonymous
    assert db.session.scalar(select(BindingCode).where(BindingCode.user_id == worker.id)).used_at is None


def test_wrong_passwords_bind_nothing_and_kill_the_code(app, db, demo, wx_users):
    worker = demo.user("qs01.g1")
    code = _code_for(db, demo)
    phone = app.test_client()
    page = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    token = csrf_from(page.get_data(as_text=True))
    for attempt in range(5):
        answer = phone.post(f"/wechat/bind/{code}", data={"csrf_token": token, "password": f"Geraten#{attempt}x"},
                            headers={"User-Agent": WECHAT_UA})
        body = answer.get_data(as_text=True)
        if attempt < 4:
            assert answer.status_code == 422 and "密码不正确" in body, attempt
        else:  # the fifth wrong proof kills the code
            assert answer.status_code == 403 and "绑定码无效" in body
        assert "Geraten" not in body  # the typed password is never echoed
    db.session.expire_all()
    row = db.session.scalar(select(BindingCode).where(BindingCode.user_id == worker.id))
    assert row.proof_failures == 5 and row.used_at is None
    dead = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    assert dead.status_code == 403 and "绑定码无效" in dead.get_data(as_text=True)
    # Even the right password is useless now: the code is dead (and the account's sign-in is locked).
    again = phone.post(f"/wechat/bind/{code}", data={"csrf_token": token, "password": DEMO_PASSWORD},
                       headers={"User-Agent": WECHAT_UA})
    assert again.status_code == 403
    assert db.session.scalar(select(Binding.id).where(Binding.user_id == worker.id,
                                                      Binding.platform == "mp")) is None


def test_a_wrong_one_time_code_binds_nothing(app, db, demo, wx_users):
    code = _code_for(db, demo)
    phone = app.test_client()
    page = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    token = csrf_from(page.get_data(as_text=True))
    # Without asking for one first, and with a guess after asking: both refused and counted.
    assert phone.post(f"/wechat/bind/{code}", data={"csrf_token": token, "otp": "123456"},
                      headers={"User-Agent": WECHAT_UA}).status_code == 422
    assert phone.post(f"/wechat/bind/{code}/otp", data={"csrf_token": token},
                      headers={"User-Agent": WECHAT_UA}).status_code == 302
    sent = notifications_to(db, "qs01.g1", "wechat.bind_proof_code")
    real = re.search(r"验证码 (\d{6})", sent[0].payload["body"]).group(1)
    guess = "000000" if real != "000000" else "111111"
    answer = phone.post(f"/wechat/bind/{code}", data={"csrf_token": token, "otp": guess},
                        headers={"User-Agent": WECHAT_UA})
    assert answer.status_code == 422 and "验证码不正确" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(BindingCode.proof_failures).where(BindingCode.user_id == demo.user("qs01.g1").id)) == 2


def test_a_service_account_never_signs_in_through_wechat(app, db, demo, client, wx_users):
    from core.accounts.models import Role
    from notify.bindings import bind, may_issue_code
    from tests.factories import make_user

    account = make_user(demo, "svc.bound", display_name="对接系统", kind="service", role=Role.township_staff,
                        place="青石镇")
    bind(account, "wecom", "svc.bound", actor=Actor.system("cli"))
    db.session.commit()
    assert not may_issue_code(demo.actor("admin"), account)  # no phone to bind
    _, done = silent_sign_in(client, "/m/", WECOM_UA, fake_userid="svc.bound")
    assert done.status_code == 403
    assert sessions_of(db, account.id) == 0


# --- happy paths -----------------------------------------------------------------------------------------------


def test_the_grid_worker_proves_with_a_code_sent_to_their_own_channel_and_hears_of_the_binding(app, db, demo,
                                                                                            wx_users):
    from core.audit.models import AuditEntry

    worker = demo.user("qs01.g1")
    old = db.session.scalar(select(Binding).where(Binding.user_id == worker.id, Binding.platform == "wecom"))
    code = _code_for(db, demo)
    phone = app.test_client()
    page = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA})
    assert "获取验证码" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    asked = phone.post(f"/wechat/bind/{code}/otp", data={"csrf_token": token}, headers={"User-Agent": WECHAT_UA})
    assert asked.status_code == 302
    assert "验证码已发送到您的企业微信" in phone.get(asked.headers["Location"],
                                                 headers={"User-Agent": WECHAT_UA}).get_data(as_text=True)
    (sent,) = notifications_to(db, "qs01.g1", "wechat.bind_proof_code")
    assert sent.priority == "urgent" and sent.deliveries[0].binding_id == old.id  # to the channel he already has
    otp = re.search(r"验证码 (\d{6})", sent.payload["body"]).group(1)
    proved = phone.post(f"/wechat/bind/{code}", data={"csrf_token": token, "otp": otp},
                        headers={"User-Agent": WECHAT_UA})
    assert proved.status_code == 200
    started = phone.get(continue_url(proved, code), headers={"User-Agent": WECHAT_UA})
    back = authorize(started.headers["Location"], fake_openid="o_g1_second_phone")
    done = phone.get(_path(back), headers={"User-Agent": WECHAT_UA})
    assert done.status_code == 302
    assert phone.get("/m/", headers={"User-Agent": WECHAT_UA}).status_code == 200
    binding = _bound(db, "o_g1_second_phone")
    assert binding is not None and binding.user_id == worker.id
    (told,) = notifications_to(db, "qs01.g1", "wechat.new_binding")
    assert told.deliveries[0].binding_id == old.id  # announced on the old channel, not the phone just bound
    rows = {(e.action, e.actor_name) for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(["wechat.bind", "notify.bound", "wechat.bind_proof_code_sent"])))}
    assert {("wechat.bind", "qs01.g1"), ("notify.bound", "qs01.g1"), ("wechat.bind_proof_code_sent", "anonymous")} <= rows


def test_after_the_proven_binding_the_worker_signs_in_silently(app, db, demo, wx_users):
    code = _code_for(db, demo, "qs01.g2")
    done = prove_and_bind(app.test_client(), code, WECHAT_UA, fake_openid="o_g2_phone")
    assert done.status_code == 302
    later = app.test_client()  # another day, the same phone: opening a message's link signs in silently
    _, signed = silent_sign_in(later, "/m/", WECHAT_UA, fake_openid="o_g2_phone")
    assert signed.status_code == 302 and later.get("/m/", headers={"User-Agent": WECHAT_UA}).status_code == 200
    assert db.session.scalar(select(Notification.id).where(Notification.event == "wechat.new_binding")) is not None


def test_a_grid_worker_without_any_channel_proves_with_the_password(app, db, demo, wx_users):
    from sqlalchemy import delete

    from core.audit.operations import record

    worker = demo.user("qs01.g2")
    db.session.execute(delete(Binding).where(Binding.user_id == worker.id))
    record(Actor.system("cli"), "test.unbound", worker, changed=["notify_bindings"])
    db.session.commit()
    code = _code_for(db, demo, "qs01.g2")
    phone = app.test_client()
    page = phone.get(f"/wechat/bind/{code}", headers={"User-Agent": WECHAT_UA}).get_data(as_text=True)
    assert "获取验证码" not in page and "请输入登录密码" in page
    refused = phone.post(f"/wechat/bind/{code}/otp", data={"csrf_token": csrf_from(page)},
                         headers={"User-Agent": WECHAT_UA})
    assert refused.status_code == 422 and "请输入登录密码完成验证" in refused.get_data(as_text=True)
    assert prove_and_bind(phone, code, WECHAT_UA, fake_openid="o_g2_first_phone").status_code == 302
