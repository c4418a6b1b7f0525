"""等保三级 (#13) attacked: the second factor, WeChat's silent sign-in, API tokens behind a fresh factor and the
dual-controlled factor reset, tried by an attacker holding a password, a captured cookie, another account's
codes, or an administrator's post. Holes found were written as strict xfails, then fixed (the comments and
reason strings say what each was). Companion: test_attack_security13_edges.py (limits, links, the visitor cookie,
production config, every demo role on the new pages)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, update

from core.accounts import factors
from core.accounts.factor_models import RecoveryCode, UserFactor
from core.accounts.models import AdminActKind, ApiToken, User, WebSession
from core.actor import Actor
from core.errors import PermissionDenied, ValidationFailed
from tests.conftest import csrf_from, login, make_app
from tests.core.attack_support import Watch, post_form
from tests.core.factor_support import (
    OTHER_SECRET,
    _code,
    _give_secret,
    _post_code,
    _respend,
    _sign_in,
    _signed_in,
)

# --- the step between password and code ---------------------------------------------------------------------------

PROTECTED = ("/account", "/account/factor", "/account/factor/confirm", "/account/api-tokens", "/cases/",
             "/admin/security", "/admin/requests", "/admin/api-tokens", "/m/", "/account/password")


def test_between_the_two_steps_no_page_or_api_answers_as_the_user(app, client, db, demo, enforced):
    assert login(client, "secadmin").status_code == 302
    pending = client.get_cookie("mdt_session").value
    for path in PROTECTED:
        response = client.get(path)
        assert response.status_code in (302, 401), (path, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], (path, response.headers["Location"])
    assert client.get("/api/v1/cases").status_code == 401
    # The same cookie replayed on another device, later in the five minutes: still nothing signed in.
    thief = app.test_client()
    thief.set_cookie("mdt_session", pending)
    assert not _signed_in(thief) and thief.get("/api/v1/cases").status_code == 401
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(
        WebSession.user_id == demo.user("secadmin").id)) == 0


def test_a_pending_cookie_replayed_after_the_sign_in_cannot_reuse_the_code(app, client, db, demo, enforced):
    assert login(client, "qs.staff").status_code == 302
    pending = client.get_cookie("mdt_session").value
    code = _code()
    assert _post_code(client, code).status_code == 302 and _signed_in(client)
    thief = app.test_client()
    thief.set_cookie("mdt_session", pending)
    assert not _signed_in(thief)
    assert _post_code(thief, code).status_code == 422 and not _signed_in(thief)


def test_a_code_or_a_form_field_of_another_account_does_not_finish_this_one(app, client, db, demo, enforced):
    victim, attacker = demo.user("qs.staff"), demo.user("qs.leader")
    _give_secret(db, victim, OTHER_SECRET)  # the victim's phone: a secret the attacker does not hold
    assert login(client, "qs.staff").status_code == 302  # the attacker has the victim's password only
    for extra in ({}, {"username": "qs.leader"}, {"u": str(attacker.id)}, {"user_id": str(attacker.id)}):
        answer = _post_code(client, _code(), **extra)  # his own (demo) authenticator's code
        assert answer.status_code == 422, extra
        assert not _signed_in(client)
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(
        WebSession.user_id.in_([victim.id, attacker.id]))) == 0


def test_a_confirmed_factor_is_never_replaced_by_enrolment(app, client, db, demo, enforced):
    user = demo.user("qs.staff")
    with app.test_request_context(), pytest.raises(ValidationFailed):
        factors.start_enrolment(user, actor=Actor.for_user(user))
    db.session.rollback()
    # The pending step's enrolment page of an enrolled account sends to the code, writing nothing.
    assert login(client, "qs.staff").status_code == 302
    watch = Watch(db)
    assert client.get("/login/factor/enrol").headers["Location"].endswith("/login/factor")
    token = csrf_from(client.get("/login/factor").get_data(as_text=True))
    assert client.post("/login/factor/enrol", data={"csrf_token": token, "code": _code()}).status_code == 302
    watch.assert_unchanged(refusal=None)
    # Signed in: /account/factor shows the status, on GET and POST, and draws no new secret.
    assert _post_code(client, _code()).status_code == 302
    watch = Watch(db)
    page = client.get("/account/factor")
    assert page.status_code == 200 and "<svg" not in page.get_data(as_text=True)
    again = client.post("/account/factor", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                 "code": _code(1)})
    assert again.status_code == 200 and "<svg" not in again.get_data(as_text=True)
    watch.assert_unchanged(refusal=None)
    assert factors.is_enrolled(user)


def test_the_enrolment_page_needs_the_password_step(app, client, db, demo, enforced):
    user = demo.user("qs01.head")
    db.session.query(UserFactor).filter_by(user_id=user.id).delete()
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(UserFactor))
    answer = client.get("/login/factor/enrol")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    token = csrf_from(client.get("/login").get_data(as_text=True))
    answer = client.post("/login/factor/enrol", data={"csrf_token": token, "code": "123456"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(UserFactor)) == before
    assert not _signed_in(client)


# Was a hole: on SQLite the code step's rate-limit read opened BEGIN IMMEDIATE on a second connection while the
# request held the write lock, waiting on itself (core.db.short_read now never begins with write intent).


def _real_app(url):
    return make_app(url, SECOND_FACTOR_ENFORCED=True, SQLITE_BUSY_TIMEOUT_MS=2000)


def _dispose(app):
    with app.app_context():
        from core.db import db as _db

        _db.engine.dispose()


def test_the_code_step_signs_in_on_a_database_of_its_own(fresh_url):
    app = _real_app(fresh_url)
    try:
        c = app.test_client()
        assert login(c, "qs.staff").status_code == 302
        token = csrf_from(c.get("/login/factor").get_data(as_text=True))
        with app.app_context():
            code = _code()
        answer = c.post("/login/factor", data={"csrf_token": token, "code": code})
        assert answer.status_code == 302 and _signed_in(c)
    finally:
        _dispose(app)


def test_two_requests_carrying_one_code_sign_in_once(fresh_url):
    app = _real_app(fresh_url)
    try:
        clients, tokens = [], []
        for _ in range(3):
            c = app.test_client()
            assert login(c, "qs.staff").status_code == 302
            tokens.append(csrf_from(c.get("/login/factor").get_data(as_text=True)))
            clients.append(c)
        with app.app_context():
            code = _code()
        barrier, results = threading.Barrier(len(clients)), []

        def race(c, token):
            barrier.wait()
            r = c.post("/login/factor", data={"csrf_token": token, "code": code})
            results.append((r.status_code, r.headers.get("Location", "")))

        threads = [threading.Thread(target=race, args=pair) for pair in zip(clients, tokens, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        won = [r for r in results if r[0] == 302 and "/login" not in r[1]]
        assert len(results) == 3 and len(won) == 1, results
        assert sorted(s for s, _ in results) == [302, 422, 422], results
        assert sum(_signed_in(c) for c in clients) == 1
    finally:
        _dispose(app)


def test_recovery_codes_are_bound_to_their_account_and_spent_once(app, client, db, demo, enforced):
    staff, leader = demo.user("qs.staff"), demo.user("qs.leader")
    with app.test_request_context():
        leaders = factors._new_recovery_codes(leader)
        old = factors._new_recovery_codes(staff)
        mine = factors._new_recovery_codes(staff)  # a new set replaces the old one
    db.session.commit()
    assert login(client, "qs.staff").status_code == 302
    assert _post_code(client, leaders[0]).status_code == 422  # another account's code
    assert _post_code(client, old[0]).status_code == 422  # a code of a replaced set
    assert _post_code(client, mine[0].replace("-", " ")).status_code == 422  # not a loophole in the format
    assert _post_code(client, mine[0]).status_code == 302 and _signed_in(client)
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == leader.id, RecoveryCode.used_at.is_not(None))) == 0


EVIL_NEXT = ("https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example", " //evil.example",
             "/\t/evil.example", "javascript:alert(1)", "http:/evil.example", "/%0a/evil.example")


def test_step_up_and_the_sign_in_never_send_you_off_site(app, client, db, demo, enforced):
    assert login(client, "qs.staff").status_code == 302
    page = client.get("/login/factor")
    done = client.post("/login/factor", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                               "code": _code()})
    assert done.status_code == 302
    for target in EVIL_NEXT:
        _respend(db, "qs.staff")
        form = client.get("/account/factor/confirm", query_string={"next": target})
        assert form.status_code == 200
        answer = client.post("/account/factor/confirm", query_string={"next": target}, data={
            "csrf_token": csrf_from(form.get_data(as_text=True)), "code": _code(), "next": target})
        location = answer.headers.get("Location", "")
        assert answer.status_code == 302 and location.startswith("/") and not location.startswith("//"), \
            (target, location)
        assert "evil" not in location or location.startswith("/%"), (target, location)
    # The sign-in's next (kept in the pending step) is checked the same way.
    for target in EVIL_NEXT[:3]:
        fresh = app.test_client()
        _respend(db, "qs.staff")
        token = csrf_from(fresh.get("/login").get_data(as_text=True))
        fresh.post("/login", data={"csrf_token": token, "username": "qs.staff", "password": "Shifan#2026",
                                   "next": target})
        location = _post_code(fresh, _code()).headers["Location"]
        assert location.startswith("/") and "evil" not in location, (target, location)


def _rendered_form(html: str) -> dict:
    """Every named input of the page's form, as the browser would send it."""
    import re

    return {m.group(1): m.group(2) for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)}


def test_the_step_up_form_as_rendered_goes_through(app, client, db, demo, enforced):
    # Found while attacking: the step-up page's hidden ``next`` was an unknown field to CodeArgs (unknown=RAISE),
    # so the rendered form always answered 422 and no token could be issued on the web. Fixed in
    # core/accounts/factor_views.py (CodeArgs.next); this keeps it so.
    _sign_in(client, "qs.staff")
    _respend(db, "qs.staff")
    page = client.get("/account/factor/confirm", query_string={"next": "/account/api-tokens"})
    data = {**_rendered_form(page.get_data(as_text=True)), "code": _code()}
    assert data.get("next") == "/account/api-tokens"
    answer = client.post("/account/factor/confirm?next=/account/api-tokens", data=data)
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/api-tokens"
    issued = post_form(client, "/account/api-tokens", {"label": "脚本"}, page="/account/api-tokens")
    assert issued.status_code == 302 and "/issued" in issued.headers["Location"]


def test_the_demo_code_shows_in_development_only(app, client, db, demo, enforced):
    assert login(client, "qs.staff").status_code == 302
    shown = "开发环境示范账户"
    for env in ("test", "production"):
        app.config["MEDIATION_ENV"] = env
        try:
            html = client.get("/login/factor").get_data(as_text=True)
        finally:
            app.config["MEDIATION_ENV"] = "test"
        assert shown not in html and f"<strong>{_code()}</strong>" not in html, env
    app.config["MEDIATION_ENV"] = "development"  # the control: the page does show it where it should
    try:
        assert shown in client.get("/login/factor").get_data(as_text=True)
    finally:
        app.config["MEDIATION_ENV"] = "test"
    # An account whose authenticator is its own (not the published demo secret) never gets a hint.
    _give_secret(db, demo.user("qs.staff"), OTHER_SECRET)
    app.config["MEDIATION_ENV"] = "development"
    try:
        assert shown not in client.get("/login/factor").get_data(as_text=True)
    finally:
        app.config["MEDIATION_ENV"] = "test"


def test_an_account_disabled_between_the_steps_is_not_signed_in(app, client, db, demo, enforced):
    user = demo.user("qs.staff")
    assert login(client, "qs.staff").status_code == 302
    token = csrf_from(client.get("/login/factor").get_data(as_text=True))
    db.session.execute(update(User).where(User.id == user.id).values(is_active=False))
    db.session.commit()
    answer = client.post("/login/factor", data={"csrf_token": token, "code": _code()})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert not _signed_in(client)


def test_wrong_codes_at_step_up_count_against_the_same_limit(app, client, db, demo, enforced):
    _sign_in(client, "qs.staff")
    wrong = "000000" if _code() != "000000" and _code(-1) != "000000" and _code(1) != "000000" else "999999"
    statuses = [_post_code(client, wrong, "/account/factor/confirm").status_code for _ in range(6)]
    assert statuses[:5] == [422] * 5 and statuses[5] == 429
    _respend(db, "qs.staff")
    assert _post_code(client, _code(), "/account/factor/confirm").status_code == 429  # even the right one


# --- WeChat silent sign-in --------------------------------------------------------------------------------------------

@pytest.fixture()
def wx_staff(fake_wechat):
    original = fake_wechat.control("GET", "seed")
    fake_wechat.control("POST", "seed", json={"work": {"users": ["qs01.cadre", "qs01.g1"],
                                                       "guests": original["work"].get("guests", [])}})
    yield
    fake_wechat.control("POST", "seed", json={"work": {"users": original["work"]["users"],
                                                       "guests": original["work"].get("guests", [])}})


def test_silent_sign_in_of_a_role_that_needs_the_factor_asks_for_the_code(app, client, db, demo, enforced,
                                                                            wx_staff):
    from tests.notify.test_wechat_signin import DESKTOP_UA, WECOM_UA, _path, silent_sign_in

    _back, done = silent_sign_in(client, "/village/", WECOM_UA, fake_userid="qs01.cadre")
    assert done.status_code == 302 and _path(done.headers["Location"]) == "/login/factor"
    assert client.get("/account", headers={"User-Agent": DESKTOP_UA}).status_code == 302
    assert client.get("/api/v1/cases", headers={"User-Agent": WECOM_UA}).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(
        WebSession.user_id == demo.user("qs01.cadre").id)) == 0
    page = client.get("/login/factor", headers={"User-Agent": WECOM_UA})
    answer = client.post("/login/factor", headers={"User-Agent": WECOM_UA}, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "code": _code()})
    assert answer.status_code == 302 and _path(answer.headers["Location"]) == "/village/"
    assert client.get("/account", headers={"User-Agent": WECOM_UA}).status_code == 200
    # A grid worker's bound identity is the factor: no code step.
    other = app.test_client()
    _back, done = silent_sign_in(other, "/m/", WECOM_UA, fake_userid="qs01.g1")
    assert _path(done.headers["Location"]) == "/m/"


# --- API tokens behind a fresh factor ------------------------------------------------------------------------------

def test_a_session_without_any_factor_issues_no_token(app, client, db, demo, enforced):
    # A grid worker signs in with the password (no factor needed): issuing a token still wants one.
    assert login(client, "qs01.g1").status_code == 302 and _signed_in(client)
    form = client.get("/account/api-tokens")
    assert form.status_code == 200
    answer = client.post("/account/api-tokens", data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                                      "label": "脚本"})
    assert answer.status_code == 302 and "/account/factor/confirm" in answer.headers["Location"]
    assert client.get(answer.headers["Location"]).headers["Location"].endswith("/account/factor")
    assert db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == demo.user("qs01.g1").id)) is None


def test_a_service_token_needs_the_security_administrators_fresh_factor(app, client, db, demo, enforced):
    from tests.factories import make_user

    make_user(demo, "svc.attack", role="center_staff", place="示范区", kind="service", commit=True)
    _sign_in(client, "secadmin")
    row = db.session.scalar(select(WebSession).where(WebSession.user_id == demo.user("secadmin").id))
    db.session.execute(update(WebSession).where(WebSession.id == row.id).values(
        data={**row.data, "factor_at": int(time.time()) - 601}))
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(ApiToken))
    answer = post_form(client, "/admin/api-tokens", {"username": "svc.attack", "label": "对接",
                                                     "actions": ["cases.read"], "unit_code": demo.unit("示范区").code},
                       page="/admin/api-tokens")
    assert answer.status_code == 302 and "/account/factor/confirm" in answer.headers["Location"], \
        answer.get_data(as_text=True)[:300]
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == before
    # Through the step-up it goes (the control).
    step = client.get(answer.headers["Location"])
    _respend(db, "secadmin")
    back = client.post(answer.headers["Location"], data={"csrf_token": csrf_from(step.get_data(as_text=True)),
                                                         "code": _code()})
    assert back.status_code == 302 and back.headers["Location"] == "/admin/api-tokens"


def test_no_api_route_issues_a_token_and_an_api_request_carries_no_factor(app, db, demo):
    from flask import session
    from flask_login import login_user

    from core.web import current_actor

    issuing = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/") and "token" in r.rule]
    assert issuing == []
    user = demo.user("qs.staff")
    from flask import g

    for path, fresh in (("/api/v1/cases", False), ("/account/api-tokens", True)):
        with app.test_request_context(path):
            g.pop("actor", None)  # the db fixture's app context is shared: no actor of the last request
            login_user(user)
            session["factor_at"] = int(time.time())
            assert current_actor().factor_is_fresh() is fresh, path
    with app.test_request_context("/account/api-tokens"):
        login_user(user)
        for forged in (str(int(time.time())), int(time.time()) + 3600, 1.5e9, None):
            session["factor_at"] = forged
            g.pop("actor", None)
            assert not current_actor().factor_is_fresh(), forged


# --- the lost factor: dual control ------------------------------------------------------------------------------

def _second(demo, db, role_name, username):
    """Another account holding ``role_name`` at the district (a colleague of the same post)."""
    from tests.factories import make_user

    return make_user(demo, username, role=role_name, place="示范区")


def test_an_administrators_factor_is_reset_only_by_the_third_administrator(app, db, demo):
    from core.accounts import dual_control

    with app.test_request_context():
        admin2 = _second(demo, db, "system_admin", "admin.two")
        with pytest.raises(PermissionDenied):
            dual_control.request_act(kind=AdminActKind.reset_factor, target=demo.user("admin"),
                                     actor=demo.actor("admin"), reason="自己的手机丢了")
        req = dual_control.request_act(kind=AdminActKind.reset_factor, target=demo.user("secadmin"),
                                       actor=demo.actor("admin"), reason="手机丢失")
        with pytest.raises(ValidationFailed):  # a second request in flight, even by another administrator
            dual_control.request_act(kind=AdminActKind.reset_factor, target=demo.user("secadmin"),
                                     actor=demo.actor("auditor"), reason="再提一次")
        for name in ("admin", "secadmin", "admin.two"):
            who = demo.actor(name) if name != "admin.two" else Actor.for_user(admin2)
            with pytest.raises(PermissionDenied):
                dual_control.approve(req, actor=who)
        assert factors.is_enrolled(demo.user("secadmin"))
        dual_control.approve(req, actor=demo.actor("auditor"))
        db.session.flush()
        assert factors.factor_of(demo.user("secadmin")) is None
        with pytest.raises(ValidationFailed):  # carried out: nobody decides on it again
            dual_control.approve(req, actor=demo.actor("auditor"))


def test_a_staff_factor_reset_is_not_approved_by_a_colleague_of_the_requester(app, db, demo):
    from core.accounts import dual_control

    with app.test_request_context():
        admin2 = _second(demo, db, "system_admin", "admin.two")
        req = dual_control.request_act(kind=AdminActKind.reset_factor, target=demo.user("qs.staff"),
                                       actor=demo.actor("admin"), reason="手机丢失")
        with pytest.raises(PermissionDenied):
            dual_control.approve(req, actor=Actor.for_user(admin2))
        with pytest.raises(PermissionDenied):
            dual_control.cancel(req, actor=demo.actor("secadmin"))  # only the requester withdraws
        with pytest.raises(PermissionDenied):
            dual_control.approve(req, actor=demo.actor("qs.leader"))
        assert factors.is_enrolled(demo.user("qs.staff"))


def test_non_administrators_cannot_ask_or_decide_through_the_web(app, db, demo, signed_in):
    from core.accounts import dual_control

    with app.test_request_context():
        req = dual_control.request_act(kind=AdminActKind.reset_factor, target=demo.user("qs.staff"),
                                       actor=demo.actor("admin"), reason="手机丢失")
    db.session.commit()
    for username in ("qs.staff", "qs.leader", "center.li"):
        client = signed_in(username)
        watch = Watch(db)
        asked = post_form(client, "/admin/requests/new", {"kind": "reset_factor", "username": "qs01.head",
                                                          "reason": "冒充"}, page="/account")
        approved = post_form(client, f"/admin/requests/{req.id}/approve", {}, page="/account")
        assert asked.status_code == 403 and approved.status_code == 403, (username, asked.status_code)
        watch.assert_unchanged()
    # The target approving their own reset through the web: refused (they are no administrator anyway).
    requester = signed_in("admin")
    watch = Watch(db)
    assert post_form(requester, f"/admin/requests/{req.id}/approve", {}, page="/admin/requests"
                     ).status_code in (403, 422)
    watch.assert_unchanged(refusal=None)
    assert factors.is_enrolled(demo.user("qs.staff"))


def test_digits_of_other_scripts_are_a_wrong_code_not_an_error(app, client, db, demo, enforced):
    # Found while attacking: str.isdigit() is true of fullwidth/Arabic-Indic digits, and hmac.compare_digest
    # then raised TypeError (500, and the guess went uncounted). Fixed in core/accounts/factors.py _accept
    # (ASCII digits only).
    assert login(client, "qs.staff").status_code == 302
    for code in ("１２３４５６", "٠١٢٣٤٥", "१२३४५६"):
        assert _post_code(client, code).status_code == 422, code
    fullwidth = _code().translate(str.maketrans("0123456789", "０１２３４５６７８９"))  # an IME in full width
    assert _post_code(client, fullwidth).status_code in (302, 422)


def test_one_administrator_cannot_switch_the_factor_off_for_the_administrators(app, db, demo, enforced):
    sec = _sign_in(app.test_client(), "secadmin")
    answer = post_form(sec, "/admin/security/factor-roles", {}, page="/admin/security")
    assert answer.status_code in (302, 403, 422)
    assert all(factors.is_required(demo.user(u)) for u in ("admin", "secadmin", "auditor"))


def test_a_factor_reset_ends_the_targets_sessions(app, db, demo, enforced):
    from core.accounts import dual_control

    thief = _sign_in(app.test_client(), "qs.staff")
    with app.test_request_context():
        req = dual_control.request_act(kind=AdminActKind.reset_factor, target=demo.user("qs.staff"),
                                       actor=demo.actor("admin"), reason="手机丢失")
        dual_control.approve(req, actor=demo.actor("secadmin"))
    db.session.commit()
    assert not _signed_in(thief)
    page = thief.get("/account/factor")
    assert "<svg" not in page.get_data(as_text=True)
