"""等保三级 (#13) attacked at its edges: the visitor's sealed cookie, the rate limits (username case, forwarded
addresses, cookie against bearer, anonymous floods, what the counters keep), signed links, the production keys,
and every demo role on the new pages. Holes found were written as strict xfails and then fixed; the constants keep what each was."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core import ratelimit
from core.accounts import factors
from core.accounts.models import LoginThrottle, Membership, MembershipStatus, User, WebSession
from core.actor import Actor
from core.db import utcnow
from tests.conftest import DEMO_PASSWORD, csrf_from, login, make_app
from tests.core.factor_support import _code, _post_code, _respend, _signed_in


@pytest.fixture()
def limits(app):
    def _set(**rules):
        app.config["RATE_LIMITS"] = {name.replace("_", "."): rule for name, rule in rules.items()}

    yield _set
    app.config["RATE_LIMITS"] = None


def _from(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _raw_sealed(app, payload: dict) -> str:
    """A visitor cookie sealed as the app seals one, around any payload (the test holds the key)."""
    from core.accounts.sessions import _seal_payload

    with app.app_context():
        return _seal_payload(payload)


# --- the visitor's sealed cookie ---------------------------------------------------------------------------------

SEALED_IS_NOT_A_SESSION = (
    "HOLE: core.accounts.sessions.DatabaseSessionInterface.open_session takes whatever a sealed ('a.') cookie "
    "decrypts to as the session — '_user_id' included — and the sealed cookie is the crypto provider's generic "
    "SM4-GCM ciphertext with no purpose bound to it (no separate key, no associated data). Any ciphertext of "
    "text someone typed (a party's address, a saved search, a phone binding) that reaches them — a database "
    "dump, a decrypted backup (MEDIATION_BACKUP_KEY is meant to be kept apart from the data keys) — is a "
    "cookie that signs in as any user id, password and second factor skipped, fresh factor_at included; or a "
    "factor_pending that skips the password, or a WeChat binding proof. Fix: seal visitor cookies under their "
    "own key (or AAD) and refuse '_user_id'/'_fresh' in a sealed session")


def test_a_sealed_cookie_never_signs_anyone_in(app, client, db, demo):
    from core.accounts.sessions import _seal

    admin = demo.user("admin")
    with app.test_request_context():
        forged = _seal({"_user_id": str(admin.id), "_fresh": True, "factor_at": int(time.time())})
    client.set_cookie("mdt_session", forged)
    assert client.get("/account").status_code == 302


def test_the_ciphertext_of_a_typed_address_is_not_a_session_cookie(app, client, db, demo):
    from center.cases.models import Party
    from tests.factories import make_case

    admin = demo.user("admin")
    # A clerk types this as a party's address; later he reads its ciphertext from a dump or a backup.
    typed = json.dumps({"d": {"_user_id": str(admin.id), "_fresh": True}, "e": 4102444800}, separators=(",", ":"))
    case = make_case(demo, "qs.staff", "青石镇", summary="排水沟纠纷", applicant={"name": "测试人", "address": typed},
                     commit=True)
    address_enc = db.session.scalar(select(Party.address_enc).where(Party.case_id == case.id,
                                                                     Party.address_enc.is_not(None)))
    client.set_cookie("mdt_session", "a." + address_enc)
    assert client.get("/admin/users").status_code == 302  # not the system administrator's console
    assert client.get("/account").status_code == 302


def test_a_sealed_cookie_of_another_key_expired_or_cut_is_a_fresh_visitor(app, client, db, demo, enforced):
    from core.crypto import CryptoProvider

    pending = {"factor_pending": {"u": demo.user("qs.staff").id, "at": int(time.time()), "next": ""}}
    other = CryptoProvider("v1:" + secrets.token_hex(16), secrets.token_hex(16))
    payload = json.dumps({"d": pending, "e": int(time.time()) + 3600}, separators=(",", ":"))
    cookies = {"another key": "a." + other.encrypt(payload),
               "expired": _raw_sealed(app, {"d": pending, "e": int(time.time()) - 1}),
               "no expiry": _raw_sealed(app, {"d": pending}),
               "expiry as text": _raw_sealed(app, {"d": pending, "e": "4102444800"}),
               "data not a dict": _raw_sealed(app, {"d": [pending], "e": int(time.time()) + 3600}),
               "too long": _raw_sealed(app, {"d": {**pending, "pad": "x" * 2300}, "e": int(time.time()) + 3600})}
    good = _raw_sealed(app, {"d": pending, "e": int(time.time()) + 3600})
    cookies["cut"] = good[:-8]
    cookies["sealed with a data key's version tag"] = "a.v1:" + good[2:]
    for name, cookie in cookies.items():
        client.set_cookie("mdt_session", cookie)
        answer = client.get("/login/factor")
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], name
    client.set_cookie("mdt_session", good)  # the control: the same data, sealed right, is the pending step
    assert client.get("/login/factor").status_code == 200


def test_visitors_leave_a_signed_in_users_session_alone(app, db, demo, signed_in):
    user = signed_in("qs.leader")
    rows = db.session.scalar(select(func.count()).select_from(WebSession))
    for n in range(5):
        visitor = _from(app, f"10.4.4.{n}")
        visitor.get("/login")
        login(visitor, "qs.leader", "Wrong#Pass1")
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == rows
    assert _signed_in(user)
    # Signing the same account in elsewhere does not end this session either.
    assert login(app.test_client(), "qs.leader").status_code == 302 and _signed_in(user)


# --- rate limits -------------------------------------------------------------------------------------------------

def test_case_and_spaces_in_the_username_do_not_dodge_the_lockout(app, db, demo):
    attacker = _from(app, "10.6.6.1")
    for name in ("QS.STAFF", " qs.staff", "Qs.Staff ", "qs.STAFF", "qS.sTaFf"):
        login(attacker, name, "Wrong#Pass1")
    assert "锁定" in login(attacker, "qs.staff").get_data(as_text=True)
    assert login(_from(app, "10.6.6.2"), "qs.staff").status_code == 302  # the owner, elsewhere, is not held


def test_a_forwarded_for_header_does_not_move_the_address_without_a_proxy(app, db, demo, limits):
    limits(login_address=[3, 900])
    spoofer, statuses = _from(app, "10.9.8.7"), []
    for n in range(5):
        spoofer.environ_base["HTTP_X_FORWARDED_FOR"] = f"172.16.0.{n}"
        spoofer.environ_base["HTTP_X_REAL_IP"] = f"172.16.1.{n}"
        statuses.append(login(spoofer, f"spray{n}", "Wrong#Pass1").status_code)
    assert statuses == [401, 401, 401, 429, 429]


def test_behind_one_proxy_only_the_address_it_saw_counts(fresh_url):
    app = make_app(fresh_url, PROXY_COUNT=1, RATE_LIMITS={"login.address": [3, 900]})
    try:
        proxy = _from(app, "192.0.2.1")  # the gateway; it appends the address it saw
        statuses = []
        for n in range(5):
            proxy.environ_base["HTTP_X_FORWARDED_FOR"] = f"172.16.0.{n}, 198.51.100.7"
            statuses.append(login(proxy, f"spray{n}", "Wrong#Pass1").status_code)
        assert statuses == [401, 401, 401, 429, 429]
        proxy.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.8"  # another client behind the gateway
        assert login(proxy, "qs.staff").status_code == 302
    finally:
        with app.app_context():
            from core.db import db as _db

            _db.engine.dispose()


def test_the_api_limit_counts_cookie_and_bearer_requests_of_one_account_together(app, db, demo, limits):
    from core.accounts.tokens import issue_token

    user = demo.user("qs.staff")
    with app.test_request_context():
        _row, plain = issue_token(user, label="限流", actor=Actor.system("cli"))
    db.session.commit()
    limits(api_account=[4, 60])
    cookie = app.test_client()
    assert login(cookie, "qs.staff").status_code == 302
    bearer = app.test_client()
    auth = {"Authorization": f"Bearer {plain}"}
    codes = [cookie.get("/api/v1/cases").status_code, bearer.get("/api/v1/cases", headers=auth).status_code,
             cookie.get("/api/v1/cases").status_code, bearer.get("/api/v1/cases", headers=auth).status_code,
             bearer.get("/api/v1/cases", headers=auth).status_code, cookie.get("/api/v1/cases").status_code]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_an_anonymous_api_flood_is_limited_per_address(app, db, demo, limits):
    limits(api_account=[3, 60])
    flood = _from(app, "10.8.8.8")
    paths = ["/api/v1/cases", "/api/v1/cases/SF-2026-000001", "/api/v1/cases", "/api/v1/cases", "/api/v1/openapi.json"]
    codes = [flood.get(p).status_code for p in paths]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert _from(app, "10.8.8.9").get("/api/v1/cases").status_code == 401  # another address is not held
    # Spoofing the cookie's user id is not a way around it: a made-up cookie is an anonymous request.
    flood.set_cookie("mdt_session", "not-a-session")
    assert flood.get("/api/v1/cases").status_code == 429


def test_the_counters_keep_no_username_or_address_in_clear(app, db, demo):
    spray = _from(app, "10.7.7.7")
    for _ in range(2):
        login(spray, "victim.name", "Wrong#Pass1")
    keys = list(db.session.scalars(select(ratelimit.RateCounter.key)))
    assert keys and not any("10.7.7.7" in k or "victim" in k for k in keys)
    throttles = list(db.session.scalars(select(LoginThrottle.username)))
    assert not any("10.7.7.7" in t for t in throttles)


def test_a_hashed_address_cannot_be_recovered_by_hashing_candidates(app, db, demo):
    login(_from(app, "10.7.7.77"), "victim.name", "Wrong#Pass1")
    keys = set(db.session.scalars(select(ratelimit.RateCounter.key)))
    throttles = set(db.session.scalars(select(LoginThrottle.username)))
    found = set()
    for n in range(256):
        candidate = f"10.7.7.{n}"
        if "login.address:" + hashlib.sha256(candidate.encode()).hexdigest()[:64] in keys:
            found.add(candidate)
        if f"victim.name|{hashlib.sha256(candidate.encode()).hexdigest()[:16]}" in throttles:
            found.add(candidate)
    assert not found, found


# --- signed links ------------------------------------------------------------------------------------------------

@pytest.fixture()
def card(app, db, demo):
    from center.cases.card import card_link
    from tests.factories import make_case

    case = make_case(demo, "qs.staff", "青石镇", summary="链接攻击测试：相邻两户排水沟堵塞纠纷")
    path = card_link(case, demo.user("qs.staff"))
    db.session.commit()
    return case, path


_VOLATILE = re.compile(r'(nonce|value|content)="[^"]*"')


def _gone(client, path, method="GET"):
    answer = client.open(path, method=method)
    assert answer.status_code == 410, (path, answer.status_code)
    assert answer.headers.get("Referrer-Policy") == "no-referrer", path
    return _VOLATILE.sub("", answer.get_data(as_text=True))


def test_every_refused_link_answers_the_same_410(app, db, demo, card):
    from core.links import ActionLink

    case, path = card
    client = app.test_client()
    link = db.session.scalar(select(ActionLink).order_by(ActionLink.id.desc()))
    bodies = {"unknown": _gone(client, "/l/" + secrets.token_urlsafe(24)),
              "too long": _gone(client, "/l/" + "A" * 65),
              "other alphabet": _gone(client, "/l/令牌令牌令牌令牌令牌令牌令牌令牌"),
              "one off": _gone(client, path[:-1] + ("A" if path[-1] != "A" else "B"))}
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    bodies["expired"] = _gone(client, path)
    link.expires_at, link.revoked_at = utcnow() + timedelta(days=1), utcnow()
    db.session.commit()
    bodies["revoked"] = _gone(client, path)
    link.revoked_at = None
    db.session.execute(update(User).where(User.id == demo.user("qs.staff").id).values(is_active=False))
    db.session.commit()
    bodies["addressee disabled"] = _gone(client, path)
    db.session.execute(update(User).where(User.id == demo.user("qs.staff").id).values(is_active=True))
    db.session.commit()
    assert client.get(path).status_code == 200  # the control: the same link, its addressee back
    # The township leader's card, after his post ended (he sees the case through his post only).
    from center.cases.card import card_link

    leader_path = card_link(case, demo.user("qs.leader"))
    db.session.commit()
    assert client.get(leader_path).status_code == 200
    _end_posts(db, demo.user("qs.leader"))
    bodies["right gone"] = _gone(client, leader_path)
    assert len(set(bodies.values())) == 1, {k: v[:80] for k, v in bodies.items()}


def _end_posts(db, user):
    db.session.execute(update(Membership).where(Membership.user_id == user.id).values(status=MembershipStatus.ended))
    db.session.commit()
    db.session.expire_all()


def test_a_card_dies_with_the_addressees_last_post(app, db, demo, card, signed_in):
    case, path = card  # addressed to qs.staff, who filed the case
    _end_posts(db, demo.user("qs.staff"))
    client = app.test_client()
    assert login(client, "qs.staff").status_code in (302, 401)
    assert client.get(f"/cases/{case.number}").status_code in (302, 403, 404)  # the page: refused
    assert app.test_client().get(path).status_code == 410


def test_a_link_to_someone_who_never_could_see_the_case_opens_nothing(app, db, demo, card):
    from center.cases.card import card_link

    case, _path = card
    path = card_link(case, demo.user("lh.staff"))  # another township's clerk
    db.session.commit()
    html = _gone(app.test_client(), path)
    assert case.number not in html


def test_opening_a_link_signed_in_keeps_the_session_and_anonymous_gets_no_user(app, db, demo, card, signed_in):
    case, path = card
    leader = signed_in("lh.leader")  # another township's leader, holding the forwarded link
    rows = db.session.scalar(select(func.count()).select_from(WebSession))
    assert leader.get(path).status_code == 200
    assert leader.get(f"/cases/{case.number}").status_code == 404  # the card widened nothing
    assert "lh.leader" in leader.get("/account").get_data(as_text=True)
    anonymous = app.test_client()
    answer = anonymous.get(path)
    cookie = anonymous.get_cookie("mdt_session")
    assert cookie is None or cookie.value.startswith("a."), answer.headers.get("Set-Cookie")
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == rows


def test_the_card_shows_no_party_data(app, db, demo):
    from center.cases.card import card_link
    from tests.center.test_search import resident_id
    from tests.factories import make_case

    number = resident_id("11010119900307457")
    case = make_case(demo, "qs.staff", "青石镇", summary="相邻两户排水沟堵塞，雨季积水流入院内",
                     applicant={"name": "欧阳明远", "id_type": "resident_id", "id_number": number,
                                "phone": "13812345678", "address": "青石镇幸福路8号"},
                     respondent={"name": "司马春华", "phone": "13987654321"})
    path = card_link(case, demo.user("qs.staff"))
    db.session.commit()
    html = app.test_client().get(path).get_data(as_text=True)
    assert case.number in html
    for secret in ("欧阳明远", "司马春华", number, number[-4:] + "<", "13812345678", "13987654321", "幸福路"):
        assert secret not in html, secret


def test_the_card_does_not_show_a_party_named_in_the_summary(app, db, demo):
    from center.cases.card import card_link
    from tests.factories import make_case

    case = make_case(demo, "qs.staff", "青石镇", summary="欧阳明远与邻居因排水沟堵塞发生争执",
                     applicant={"name": "欧阳明远"})
    path = card_link(case, demo.user("qs.staff"))
    db.session.commit()
    assert "欧阳明远" not in app.test_client().get(path).get_data(as_text=True)


def test_a_once_link_is_not_spent_by_a_post_without_the_csrf_token(app, db, demo):
    from core.links import LinkAction, issue, register_link_action

    done = []
    register_link_action(LinkAction("test.attack_once", "test", lambda link, user: done.append(1) or "好",
                                    once=True, confirm="确认一次"))
    path = issue("test.attack_once", 7, user=demo.user("qs.leader"), ttl=timedelta(hours=1))
    db.session.commit()
    client = app.test_client()
    assert client.post(path).status_code == 400 and not done
    page = client.get(path)
    assert page.status_code == 200
    assert client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 200
    assert done == [1]


# --- production configuration ------------------------------------------------------------------------------------

def _production(**overrides):
    from core.config import load_config

    keys = {"MEDIATION_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
            "CRYPTO_KEYS": "v1:" + secrets.token_hex(16), "BLIND_INDEX_KEY": secrets.token_hex(16),
            "BACKUP_KEY": secrets.token_hex(16), "AUDIT_ARCHIVE_KEY": secrets.token_hex(16),
            "WECOM_SECRET": secrets.token_hex(16)}
    return load_config({**keys, **overrides})


def test_production_refuses_development_short_and_patterned_keys_and_no_factor(monkeypatch):
    from core.config import ConfigError, DevelopmentConfig

    for name in list(__import__("os").environ):
        if name.startswith("MEDIATION_") and name != "MEDIATION_ENV" or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    assert _production()["SECOND_FACTOR_ENFORCED"] is True  # the control: generated keys start
    bad = {"dev SECRET_KEY": {"SECRET_KEY": DevelopmentConfig.SECRET_KEY},
           "short SECRET_KEY": {"SECRET_KEY": secrets.token_hex(15)},
           "patterned SECRET_KEY": {"SECRET_KEY": "ab" * 32},
           "dev CRYPTO_KEYS": {"CRYPTO_KEYS": DevelopmentConfig.CRYPTO_KEYS},
           "dev key among others": {"CRYPTO_KEYS": "v0:" + DevelopmentConfig.CRYPTO_KEYS[3:] + ",v1:"
                                    + secrets.token_hex(16)},
           "dev BLIND_INDEX_KEY": {"BLIND_INDEX_KEY": DevelopmentConfig.BLIND_INDEX_KEY},
           "dev BACKUP_KEY": {"BACKUP_KEY": DevelopmentConfig.BACKUP_KEY},
           "sequential BACKUP_KEY": {"BACKUP_KEY": "000102030405060708090a0b0c0d0e0f"},
           "dev WECOM_SECRET": {"WECOM_SECRET": DevelopmentConfig.WECOM_SECRET},
           "no SECRET_KEY": {"SECRET_KEY": ""},
           "factor off": {"SECOND_FACTOR_ENFORCED": False}}
    for name, change in bad.items():
        with pytest.raises(ConfigError):
            _production(**change)
            pytest.fail(name)
    monkeypatch.setenv("MEDIATION_SECOND_FACTOR_ENFORCED", "off")
    with pytest.raises(ConfigError, match="SECOND_FACTOR"):
        _production()


def test_production_refuses_a_backup_key_that_is_a_data_key(monkeypatch):
    from core.config import ConfigError

    for name in list(__import__("os").environ):
        if name.startswith("MEDIATION_") and name != "MEDIATION_ENV":
            monkeypatch.delenv(name, raising=False)
    data_key = secrets.token_hex(16)
    with pytest.raises(ConfigError):
        _production(CRYPTO_KEYS="v1:" + data_key, BACKUP_KEY=data_key)


# --- every demo role on the new pages ----------------------------------------------------------------------------

ROLES = ("admin", "secadmin", "auditor", "leader.wang", "center.li", "xinfang.head", "sifa.liaison", "qs.leader",
         "qs.staff", "qs.center", "qs01.head", "qs01.cadre", "qs01.g1")
#: page → the usernames that may open it (everyone else: 403)
PAGES = {"/account/factor": set(ROLES), "/account/api-tokens": set(ROLES), "/admin/security": {"secadmin"},
         "/admin/api-tokens": {"admin", "secadmin"}, "/admin/requests": {"admin", "secadmin", "auditor"}}


def test_every_demo_role_gets_only_its_controls_on_the_new_pages(app, db, demo, enforced):
    for username in ROLES:
        client = app.test_client()
        assert login(client, username).status_code == 302, username
        if factors.is_required(demo.user(username)):
            assert _post_code(client, _code()).status_code == 302, username
        else:
            assert username == "qs01.g1"
        for page, allowed in PAGES.items():
            answer = client.get(page)
            assert answer.status_code == (200 if username in allowed else 403), (username, page, answer.status_code)
            html = answer.get_data(as_text=True)
            if page == "/admin/api-tokens" and answer.status_code == 200:
                # issuing a service token is the security administrator's alone
                assert ('action="/admin/api-tokens"' in html) == (username == "secadmin"), username
            if page == "/admin/security" and answer.status_code == 200:
                assert 'action="/admin/security/factor-roles"' in html
        status = client.get("/account/factor").get_data(as_text=True)
        # an enrolled account is shown its status, never a new secret to scan
        assert ("<svg" in status) == (username == "qs01.g1"), username
        _respend(db, username)
    # What each role could post on the security page: only the security administrator changes the policy.
    sec_only = app.test_client()
    assert login(sec_only, "qs.leader").status_code == 302
    assert _post_code(sec_only, _code(1)).status_code == 302
    token = csrf_from(sec_only.get("/account").get_data(as_text=True))
    answer = sec_only.post("/admin/security/factor-roles", data={"csrf_token": token, "role": []})
    assert answer.status_code == 403 and factors.required_roles() == factors.DEFAULT_ROLES


def test_the_login_form_posts_no_factor_field_that_skips_the_step(app, client, db, demo, enforced):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"csrf_token": token, "username": "qs.staff", "password": DEMO_PASSWORD,
                                         "code": _code(), "factor": "totp"})
    assert answer.status_code in (302, 422)
    assert not _signed_in(client)
