"""Accounts: password policy and hashing, lockout (shared by every process through the database),
password rotation, admin reset and disabling a user."""

from __future__ import annotations

import contextlib
import string
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from core.accounts import blocklist
from core.accounts.models import LoginThrottle, User, WebSession
from core.accounts.operations import LOCKED, LOGIN_FAILED, throttle_key
from core.accounts.passwords import hash_password, policy_errors, verify_password
from core.audit.models import AuditEntry
from core.db import utcnow
from tests.conftest import DEMO_PASSWORD, csrf_token, login, make_app

LOCKED_15 = LOCKED.format(minutes=15)
COMMON_FILE = Path(__file__).resolve().parents[2] / "core" / "accounts" / "data" / "common_passwords.txt"
COMMON = frozenset(line.strip().lower() for line in COMMON_FILE.read_text("utf-8").splitlines()
                   if line.strip() and not line.startswith("#"))


def new_client(app):
    return app.test_client()




# --- password policy -------------------------------------------------------------------------------------

def _classes(password: str) -> int:
    """The four classes, written independently of the implementation: anything that is not an ASCII
    letter or digit (punctuation, space, Chinese characters) is a symbol."""
    lower = any("a" <= c <= "z" for c in password)
    upper = any("A" <= c <= "Z" for c in password)
    digit = any("0" <= c <= "9" for c in password)
    other = any(not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9") for c in password)
    return lower + upper + digit + other


def _acceptable(password: str, username: str) -> bool:
    return (len(password) >= 8 and _classes(password) >= 3 and username.lower() not in password.lower()
            and password.lower() not in COMMON)


POLICY_TABLE = [
    # password, username, acceptable, expected message fragment when refused
    ("Ab1#xyz", "qs.staff", False, "至少 8 位"),                 # 7 characters
    ("Ab1#wxyz", "qs.staff", True, None),                        # exactly 8, four classes
    ("abcdefgh", "qs.staff", False, "至少 3 类"),                # one class
    ("abcdefg1", "qs.staff", False, "至少 3 类"),                # two classes
    ("abcdef1#", "qs.staff", True, None),                        # lower + digit + symbol
    ("ABCDEF1#", "qs.staff", True, None),                        # upper + digit + symbol
    ("Abcdefgh1", "qs.staff", True, None),                       # upper + lower + digit
    ("Abcdefg#", "qs.staff", True, None),                        # upper + lower + symbol
    ("调解Abcd12", "qs.staff", True, None),                      # Chinese characters count as symbols
    ("abcd 1234", "qs.staff", True, None),                       # a space is a symbol
    ("My#QS.Staff9", "qs.staff", False, "不能包含用户名"),        # username, other case
    ("x1#QS.STAFFy", "qs.staff", False, "不能包含用户名"),
    ("Admin@2026", "qs.staff", False, "过于常见"),               # common list, other case
    ("P@ssw0rd1", "qs.staff", False, "过于常见"),
    ("Qwer@1234", "qs.staff", False, "过于常见"),
    ("Admin@2026", "admin", False, "不能包含用户名"),
]


@pytest.mark.parametrize(("password", "username", "ok", "fragment"), POLICY_TABLE)
def test_password_policy_table(password, username, ok, fragment):
    errors = policy_errors(password, username=username)
    assert (errors == []) is ok, errors
    assert _acceptable(password, username) is ok  # the table and the oracle agree
    if fragment:
        assert any(fragment in e for e in errors), errors


def test_policy_reports_every_broken_rule():
    errors = policy_errors("qs.staff", username="qs.staff")
    assert len(errors) == 2 and any("至少 3 类" in e for e in errors) and any("用户名" in e for e in errors)
    assert len(policy_errors("1234", username="x")) == 3  # short, one class, common


_ALPHABET = string.ascii_letters + string.digits + "!@#$%^&*._- " + "调解网格村"
_USERNAMES = st.sampled_from(["qs.staff", "admin", "leader.wang", "cg01.g1"])


def _cased(s: str, flips: list[bool]) -> str:
    return "".join(c.upper() if f else c for c, f in zip(s, flips + [False] * len(s), strict=False))


@st.composite
def _candidates(draw):
    username = draw(_USERNAMES)
    kind = draw(st.sampled_from(["random", "with_username", "common"]))
    if kind == "random":
        password = draw(st.text(alphabet=_ALPHABET, max_size=16))
    elif kind == "with_username":
        flips = draw(st.lists(st.booleans(), max_size=len(username)))
        password = (draw(st.text(alphabet=_ALPHABET, max_size=5)) + _cased(username, flips)
                    + draw(st.text(alphabet=_ALPHABET, max_size=5)))
    else:
        word = draw(st.sampled_from(sorted(COMMON)))
        password = _cased(word, draw(st.lists(st.booleans(), max_size=len(word))))
    return password, username


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(_candidates())
def test_password_policy_property(candidate):
    """What the four basic rules refuse is refused; what they accept is refused only for a guessable pattern
    (tests/core/test_password_blocklist.py checks those one by one)."""
    password, username = candidate
    errors = policy_errors(password, username=username)
    if not _acceptable(password, username):
        assert errors
    else:
        assert set(errors) <= PATTERN_REASONS, errors


PATTERN_REASONS = {blocklist.USERNAME, blocklist.COMMON_DRESSED, blocklist.PINYIN_NAME, blocklist.BIRTHDAY,
                   blocklist.LOVE, blocklist.KEYBOARD}


def test_new_password_is_checked_against_policy_through_the_form(client, login_as, demo, db):
    login_as("qs.staff")
    token = csrf_token(client)
    before = demo.user("qs.staff").password_hash
    for bad, fragment in (("Ab1#xyz", "至少 8 位"), ("abcdefgh", "至少 3 类"), ("X#qs.staff1", "用户名"),
                          ("Admin@2026", "过于常见")):
        response = client.post("/account/password", data={
            "csrf_token": token, "current_password": DEMO_PASSWORD, "new_password": bad, "confirm_password": bad})
        assert response.status_code == 422
        assert fragment in response.get_data(as_text=True)
    db.session.expire_all()
    assert demo.user("qs.staff").password_hash == before


# --- hashing -----------------------------------------------------------------------------------------------

def test_hashing_is_argon2id_with_configured_cost(app):
    with app.app_context():
        hashed = hash_password("Some#Pass2026")
        assert hashed.startswith(
            f"$argon2id$v=19$m={app.config['ARGON2_MEMORY_KIB']},t={app.config['ARGON2_TIME_COST']},p=1$")
        assert verify_password(hashed, "Some#Pass2026")
        assert not verify_password(hashed, "Some#Pass2027")
        assert not verify_password("not-a-hash", "Some#Pass2026")
        assert hash_password("Some#Pass2026") != hashed  # salted


def test_stored_demo_hash_is_argon2_and_never_the_password(demo):
    stored = demo.user("qs.staff").password_hash
    assert stored.startswith("$argon2id$")
    assert DEMO_PASSWORD not in stored
    assert verify_password(stored, DEMO_PASSWORD)


@pytest.fixture()
def verify_calls(monkeypatch):
    """Every argon2 verification the login performs (the real verify still runs)."""
    calls: list[str] = []
    real = PasswordHasher.verify

    def counting(self, hash, password):  # noqa: A002 - argon2's own parameter name
        calls.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def test_unknown_username_costs_one_hash_like_a_wrong_password(client, demo, app, verify_calls):
    cost = f"m={app.config['ARGON2_MEMORY_KIB']},t={app.config['ARGON2_TIME_COST']}"
    assert login(client, "qs.staff", "Wrong#Pass1").status_code == 401
    assert len(verify_calls) == 1 and cost in verify_calls[0]
    verify_calls.clear()
    assert login(client, "nobody.at.all", "Wrong#Pass1").status_code == 401
    assert len(verify_calls) == 1, "an unknown username must still cost one argon2 verification"
    assert verify_calls[0].startswith("$argon2id$") and cost in verify_calls[0]


# --- lockout -------------------------------------------------------------------------------------------------

def _refusal(response) -> str:
    assert response.status_code == 401, response.status_code
    return response.get_data(as_text=True)


def test_lockout_after_five_failures_same_message_before(client, demo, db):
    for _ in range(4):
        assert LOGIN_FAILED in _refusal(login(client, "qs.staff", "Wrong#Pass1"))
        assert LOGIN_FAILED in _refusal(login(client, "ghost.user", "Wrong#Pass1"))
    # The fifth failure locks, for a known and an unknown name alike.
    assert LOCKED_15 in _refusal(login(client, "qs.staff", "Wrong#Pass1"))
    assert LOCKED_15 in _refusal(login(client, "ghost.user", "Wrong#Pass1"))
    # Locked: even the right password is refused with the lock message, not the generic one.
    page = _refusal(login(client, "qs.staff", DEMO_PASSWORD))
    assert LOCKED_15 in page and LOGIN_FAILED not in page
    assert LOCKED_15 in _refusal(login(client, "QS.Staff", DEMO_PASSWORD))  # the name is case-insensitive
    row = db.session.get(LoginThrottle, throttle_key("qs.staff", "127.0.0.1"))
    remaining = row.locked_until - utcnow()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
    # 15 minutes later (moved back in the database) the right password works again.
    db.session.execute(update(LoginThrottle).where(LoginThrottle.username == throttle_key("qs.staff", "127.0.0.1"))
                       .values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert login(client, "qs.staff", DEMO_PASSWORD).status_code == 302
    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor_name == "qs.staff")))
    assert {"login.failed", "login.lockout", "login.locked", "login"} <= actions


def test_success_resets_the_failure_counter(client, demo, db):
    for _ in range(4):
        login(client, "qs.staff", "Wrong#Pass1")
    assert login(client, "qs.staff", DEMO_PASSWORD).status_code == 302
    assert db.session.get(LoginThrottle, throttle_key("qs.staff", "127.0.0.1")) is None
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    for _ in range(4):
        assert LOGIN_FAILED in _refusal(login(client, "qs.staff", "Wrong#Pass1"))
    assert LOCKED_15 in _refusal(login(client, "qs.staff", "Wrong#Pass1"))


@contextlib.contextmanager
def _instance(url):
    application = make_app(url)
    try:
        yield application, application.test_client()
    finally:
        from core.db import db as _db

        with application.app_context():
            _db.engine.dispose()


def test_lockout_is_shared_by_app_instances_and_survives_restart(fresh_url):
    with _instance(fresh_url) as (_, one), _instance(fresh_url) as (_, two):
        for _ in range(3):
            assert LOGIN_FAILED in _refusal(login(one, "qs.staff", "Wrong#Pass1"))
        assert LOGIN_FAILED in _refusal(login(two, "qs.staff", "Wrong#Pass1"))
        assert LOCKED_15 in _refusal(login(two, "qs.staff", "Wrong#Pass1"))
        assert LOCKED_15 in _refusal(login(one, "qs.staff", DEMO_PASSWORD))
        assert LOCKED_15 in _refusal(login(two, "qs.staff", DEMO_PASSWORD))
        assert login(one, "qs.leader", DEMO_PASSWORD).status_code == 302  # only that name is locked
    with _instance(fresh_url) as (_, three):  # a "restart": nothing lives in process memory
        assert LOCKED_15 in _refusal(login(three, "qs.staff", DEMO_PASSWORD))


def test_security_admin_unlocks(client, demo, db, login_as):
    for _ in range(5):
        login(client, "qs.staff", "Wrong#Pass1")
    assert LOCKED_15 in _refusal(login(client, "qs.staff", DEMO_PASSWORD))
    login_as("secadmin")
    page = client.get("/admin/security")
    assert page.status_code == 200 and "qs.staff" in page.get_data(as_text=True)
    response = client.post("/admin/security/unlock",
                           data={"csrf_token": csrf_token(client, "/admin/security"), "username": "qs.staff"})
    assert response.status_code == 302
    assert db.session.get(LoginThrottle, throttle_key("qs.staff", "127.0.0.1")) is None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login.unlocked")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.actor_name == "secadmin" and entry.object_id == "qs.staff"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert login(client, "qs.staff", DEMO_PASSWORD).status_code == 302


def test_system_admin_cannot_unlock(client, demo, db, login_as):
    for _ in range(5):
        login(client, "qs.staff", "Wrong#Pass1")
    login_as("admin")
    response = client.post("/admin/security/unlock",
                           data={"csrf_token": csrf_token(client), "username": "qs.staff"})
    assert response.status_code == 403
    assert db.session.get(LoginThrottle, throttle_key("qs.staff", "127.0.0.1")).locked_until > utcnow()


# --- rotation, reset, disabling --------------------------------------------------------------------------------

def _age_password(db, username, days):
    db.session.execute(update(User).where(User.username == username)
                       .values(password_changed_at=utcnow() - timedelta(days=days)))
    db.session.commit()


def _redirects_to_password(client, path):
    response = client.get(path)
    return response.status_code == 302 and response.headers["Location"].endswith("/account/password")


def test_password_within_rotation_period_is_not_forced(client, demo, db, login_as):
    _age_password(db, "qs.staff", 89)
    login_as("qs.staff")
    assert client.get("/account").status_code == 200


def test_expired_password_forces_change_on_every_page(client, demo, db, login_as):
    _age_password(db, "qs.staff", 91)
    login_as("qs.staff")
    for path in ("/", "/account", "/admin/org", "/account", "/"):
        assert _redirects_to_password(client, path), path
    page = client.get("/account/password")
    assert page.status_code == 200 and "密码已到期" in page.get_data(as_text=True)
    new = "Fresh#Word2026"
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client), "current_password": DEMO_PASSWORD, "new_password": new,
        "confirm_password": new})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert client.get("/admin/org", follow_redirects=True).status_code == 200
    db.session.expire_all()
    user = demo.user("qs.staff")
    assert utcnow() - user.password_changed_at < timedelta(minutes=1)
    assert verify_password(user.password_hash, new)


def test_admin_reset_forces_a_change_and_ends_sessions(app, client, demo, db, login_as):
    victim = new_client(app)
    assert login(victim, "qs.staff").status_code == 302
    assert victim.get("/account").status_code == 200
    login_as("admin")
    user_id = demo.user("qs.staff").id
    reset = "Reset#Word2026"
    response = client.post(f"/admin/users/{user_id}/password",
                           data={"csrf_token": csrf_token(client, f"/admin/users/{user_id}"), "password": reset})
    assert response.status_code == 302
    assert victim.get("/account").status_code == 302  # the old session is gone
    db.session.expire_all()
    assert demo.user("qs.staff").must_change_password
    assert login(victim, "qs.staff", DEMO_PASSWORD).status_code == 401
    assert login(victim, "qs.staff", reset).status_code == 302
    for path in ("/", "/account", "/admin/org"):
        assert _redirects_to_password(victim, path), path
    same = victim.post("/account/password", data={
        "csrf_token": csrf_token(victim), "current_password": reset, "new_password": reset,
        "confirm_password": reset})
    assert same.status_code == 422  # the reset password cannot simply be kept
    new = "Mine#Word2027"
    response = victim.post("/account/password", data={
        "csrf_token": csrf_token(victim), "current_password": reset, "new_password": new,
        "confirm_password": new})
    assert response.status_code == 302
    assert victim.get("/account").status_code == 200
    db.session.expire_all()
    assert not demo.user("qs.staff").must_change_password


def test_disabling_a_user_ends_their_sessions(app, client, demo, db, login_as):
    victim = new_client(app)
    assert login(victim, "qs.staff").status_code == 302
    assert victim.get("/account").status_code == 200
    user_id = demo.user("qs.staff").id
    login_as("admin")
    response = client.post(f"/admin/users/{user_id}/disable",
                           data={"csrf_token": csrf_token(client, f"/admin/users/{user_id}")})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(WebSession)
                             .where(WebSession.user_id == user_id)) == 0
    after = victim.get("/account")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    # A disabled user cannot sign in, and learns nothing more than from a wrong password.
    assert LOGIN_FAILED in _refusal(login(victim, "qs.staff", DEMO_PASSWORD))
