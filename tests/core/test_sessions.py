"""Server-side sessions (core/accounts/sessions.py): random id in the cookie, only its SHA-256 in the
database, a fresh id on login, logout and password change end sessions for good, idle and absolute limits
from the security policy."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.accounts.models import WebSession
from core.accounts.policy import invalidate_cache
from core.accounts.sessions import VISITOR_PREFIX
from core.db import utcnow
from tests.conftest import DEMO_PASSWORD, csrf_token, login

COOKIE = "mdt_session"
EXPIRED_NOTICE = "登录已超时或已在别处退出"


def new_client(app):
    return app.test_client()




@pytest.fixture()
def policy_reset():
    """The policy is cached per process: drop the cache so a rolled-back policy change does not linger."""
    invalidate_cache()
    yield
    invalidate_cache()


def _sid(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _row(db, sid):
    db.session.expire_all()
    return db.session.scalar(select(WebSession).where(WebSession.sid_hash == _sha(sid)))


def _signed_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.status_code
    return False


def _set_times(db, sid, *, idle=None, age=None):
    values = {}
    if idle is not None:
        values["last_seen_at"] = utcnow() - idle
    if age is not None:
        values["created_at"] = utcnow() - age
    db.session.execute(update(WebSession).where(WebSession.sid_hash == _sha(sid)).values(**values))
    db.session.commit()


def test_cookie_holds_a_random_id_and_the_database_only_its_hash(client, demo, db):
    assert login(client, "qs.staff").status_code == 302
    sid = _sid(client)
    assert sid and len(sid) >= 40  # 32 random bytes, url-safe
    row = _row(db, sid)
    assert row is not None and row.user_id == demo.user("qs.staff").id
    assert row.sid_hash == _sha(sid) != sid
    everything = db.session.scalars(select(WebSession)).all()
    assert all(sid not in (r.sid_hash, str(r.data)) for r in everything)  # the id itself is stored nowhere
    cookie = client.get_cookie(COOKIE)
    assert cookie.http_only
    other = new_client(client.application)
    assert login(other, "qs.staff").status_code == 302
    assert _sid(other) != sid  # two sign-ins of the same user, two unrelated ids


def test_login_issues_a_fresh_session_id(client, demo, db):
    rows = db.session.scalar(select(func.count()).select_from(WebSession))
    client.get("/login")  # the login page's CSRF token rides in a sealed visitor cookie, not in a row
    before = _sid(client)
    assert before and before.startswith(VISITOR_PREFIX) and _row(db, before) is None
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == rows
    assert login(client, "qs.staff").status_code == 302
    after = _sid(client)
    assert after and after != before and not after.startswith(VISITOR_PREFIX)
    assert _row(db, after).user_id == demo.user("qs.staff").id
    # A planted pre-login id opens nothing.
    planted = new_client(client.application)
    planted.set_cookie(COOKIE, before)
    assert not _signed_in(planted)


def test_logout_deletes_the_row_and_a_copied_cookie_is_refused(client, demo, db):
    assert login(client, "qs.staff").status_code == 302
    sid = _sid(client)
    thief = new_client(client.application)
    thief.set_cookie(COOKIE, sid)
    assert _signed_in(thief)  # a copy works while the session lives (the thing logout must end)
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert _row(db, sid) is None
    assert _sid(client) is None  # the browser's cookie is deleted too
    assert not _signed_in(thief)
    assert not _signed_in(client)
    assert db.session.scalar(select(func.count()).select_from(WebSession)
                             .where(WebSession.user_id == demo.user("qs.staff").id)) == 0


def test_password_change_ends_every_other_session_but_keeps_this_one(client, demo, db):
    assert login(client, "qs.staff").status_code == 302
    phone = new_client(client.application)
    assert login(phone, "qs.staff").status_code == 302
    old_sid = _sid(client)
    copied = new_client(client.application)
    copied.set_cookie(COOKIE, old_sid)
    assert _signed_in(phone) and _signed_in(copied)
    new = "Changed#Pass2026"
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client), "current_password": DEMO_PASSWORD, "new_password": new,
        "confirm_password": new})
    assert response.status_code == 302
    assert not _signed_in(phone)
    assert not _signed_in(copied)  # this device continues on a new id; the old one is dead
    assert _signed_in(client)
    assert _sid(client) != old_sid
    user_id = demo.user("qs.staff").id
    assert db.session.scalar(select(func.count()).select_from(WebSession)
                             .where(WebSession.user_id == user_id)) == 1
    page = phone.get("/login")
    assert EXPIRED_NOTICE in page.get_data(as_text=True)


def test_idle_timeout_ends_the_session(client, demo, db, policy_reset):
    assert login(client, "qs.staff").status_code == 302
    sid = _sid(client)
    _set_times(db, sid, idle=timedelta(minutes=31))
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _row(db, sid) is None
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert EXPIRED_NOTICE in page.get_data(as_text=True)


def test_absolute_lifetime_ends_an_active_session(client, demo, db, policy_reset):
    assert login(client, "qs.staff").status_code == 302
    sid = _sid(client)
    _set_times(db, sid, idle=timedelta(seconds=5), age=timedelta(hours=12, minutes=1))
    assert not _signed_in(client)
    assert _row(db, sid) is None
    assert EXPIRED_NOTICE in client.get("/login").get_data(as_text=True)


def test_session_just_under_both_limits_works_and_is_touched(client, demo, db, policy_reset):
    assert login(client, "qs.staff").status_code == 302
    sid = _sid(client)
    _set_times(db, sid, idle=timedelta(minutes=29), age=timedelta(hours=11, minutes=58))
    assert _signed_in(client)
    row = _row(db, sid)
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)  # the visit refreshed last-seen
    assert utcnow() - row.created_at > timedelta(hours=11)  # but never the absolute start
    _set_times(db, sid, idle=timedelta(minutes=29))
    assert _signed_in(client)
    # Activity does not extend the absolute lifetime.
    _set_times(db, sid, idle=timedelta(seconds=1), age=timedelta(hours=12, seconds=30))
    assert not _signed_in(client)


def test_login_page_does_not_claim_expiry_for_a_new_visitor(client, demo):
    assert EXPIRED_NOTICE not in client.get("/login").get_data(as_text=True)


def test_security_policy_values_change_the_limits(app, client, demo, db, login_as, policy_reset):
    login_as("secadmin")
    form = {"min_length": 8, "min_classes": 3, "rotation_days": 90, "lockout_threshold": 5,
            "lockout_minutes": 15, "idle_minutes": 10, "absolute_hours": 2}
    response = client.post("/admin/security", data={"csrf_token": csrf_token(client, "/admin/security"), **form})
    assert response.status_code == 302

    def fresh_session():
        c = new_client(app)
        assert login(c, "qs.staff").status_code == 302
        return c, _sid(c)

    c, sid = fresh_session()
    _set_times(db, sid, idle=timedelta(minutes=11))
    assert not _signed_in(c)  # 11 minutes idle: over the new 10-minute limit
    c, sid = fresh_session()
    _set_times(db, sid, idle=timedelta(minutes=9))
    assert _signed_in(c)
    c, sid = fresh_session()
    _set_times(db, sid, idle=timedelta(seconds=5), age=timedelta(hours=2, minutes=1))
    assert not _signed_in(c)  # over the new 2-hour lifetime
    c, sid = fresh_session()
    _set_times(db, sid, idle=timedelta(seconds=5), age=timedelta(hours=1, minutes=58))
    assert _signed_in(c)
