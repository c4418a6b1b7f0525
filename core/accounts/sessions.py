"""Server-side sessions stored in ``web_sessions``.

The cookie holds a random id; the table holds its SHA-256 and the session data. A session ends when its
row is gone: logout, password change, a disabled user, the idle timeout (30 min) or the absolute lifetime
(12 h), both from the security policy. A cookie copied before logout therefore opens nothing.
Bookkeeping writes run in their own short transaction (core.db.own_transaction), so GET requests stay
read-only on SQLite and a rolled-back request cannot resurrect a session.

Before sign-in nothing is stored: a visitor's session (the login form's CSRF token, a WeChat sign-in's
state, a pending second factor) travels in the cookie itself, encrypted and authenticated by the crypto
provider (SM4-GCM) with an expiry inside, so 300 anonymous ``GET /login`` leave no row behind.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import timedelta

from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, select, update
from werkzeug.datastructures import CallbackDict

from core.accounts.models import WebSession
from core.accounts.policy import current_policy
from core.db import db, own_transaction, short_read, utcnow

#: A visitor's cookie: this prefix, then base64 of nonce | SM4-GCM ciphertext of {"d": data, "e": expiry} | tag,
#: under a key of its own (derived from SECRET_KEY for this one purpose, never the personal-data keys: a
#: ciphertext of anything typed into a form must not be a cookie) with the purpose as associated data.
VISITOR_PREFIX = "a."
VISITOR_SECONDS = 2 * 3600
_PURPOSE = b"mdt visitor session v1"
#: What only a signed-in session may hold: a visitor's cookie carrying any of them is refused whole.
SIGNED_IN_KEYS = ("_user_id", "_fresh", "_id", "factor_at")


def _cookie_key() -> bytes:
    import hmac

    from flask import current_app

    return hmac.new(str(current_app.config["SECRET_KEY"]).encode("utf-8"), _PURPOSE, hashlib.sha256).digest()[:16]


def _seal(data: dict) -> str:
    return _seal_payload({"d": data, "e": int(time.time()) + VISITOR_SECONDS})


def _seal_payload(payload) -> str:
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    nonce = os.urandom(12)
    enc = Cipher(algorithms.SM4(_cookie_key()), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(_PURPOSE)
    body = enc.update(json.dumps(payload, separators=(",", ":")).encode()) + enc.finalize()
    return VISITOR_PREFIX + base64.urlsafe_b64encode(nonce + body + enc.tag).decode("ascii")


def _open_sealed(value: str) -> dict | None:
    import base64

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        raw = base64.urlsafe_b64decode(value[len(VISITOR_PREFIX):])
        nonce, body, tag = raw[:12], raw[12:-16], raw[-16:]
        dec = Cipher(algorithms.SM4(_cookie_key()), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(_PURPOSE)
        payload = json.loads(dec.update(body) + dec.finalize())
    except Exception:  # noqa: BLE001 - forged, truncated or from another key: a fresh visitor session
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("d"), dict):
        return None
    if not isinstance(payload.get("e"), int) or payload["e"] < time.time():
        return None
    if any(key in payload["d"] for key in SIGNED_IN_KEYS):
        return None  # never a way in: a session with a user begins only at sign-in, server-side
    return payload["d"]


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid: str | None = None, *, expired: bool = False):
        def on_update(self_):
            self_.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False
        self.expired = expired  # the cookie pointed at a session that timed out or was ended
        self.sealed = False  # a visitor's session carried in the cookie
        self._rotate = False
        self._destroy = False

    def regenerate(self) -> None:
        """New id on login (no session fixation); the old row is removed at save."""
        self._rotate = True
        self.modified = True

    def destroy(self) -> None:
        self.clear()
        self._destroy = True


class DatabaseSessionInterface(SessionInterface):
    def open_session(self, app, request):
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and sid.startswith(VISITOR_PREFIX) and len(sid) <= 3000:
            data = _open_sealed(sid)
            session = ServerSession(data or {})
            session.sealed = True
            return session
        if not sid or len(sid) > 128:
            return ServerSession()
        now = utcnow()
        with short_read() as s:  # deferred read; writes below only when needed
            row = s.scalar(select(WebSession).where(WebSession.sid_hash == _hash(sid)))
            if row is None:
                return ServerSession(expired=True)
            policy = current_policy(s)
            row_id, data, last_seen, created = row.id, dict(row.data or {}), row.last_seen_at, row.created_at
        idle = now - last_seen > timedelta(minutes=policy.idle_minutes)
        too_old = now - created > timedelta(hours=policy.absolute_hours)
        if idle or too_old:
            with own_transaction() as s:
                s.execute(delete(WebSession).where(WebSession.id == row_id))
            return ServerSession(expired=True)
        if (now - last_seen).total_seconds() >= app.config["SESSION_TOUCH_SECONDS"]:
            with own_transaction() as s:
                s.execute(update(WebSession).where(WebSession.id == row_id).values(last_seen_at=now))
        return ServerSession(data, sid=sid)

    def save_session(self, app, session: ServerSession, response):
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session._destroy:
            if session.sid:
                db.session.rollback()  # see below: release the request's SQLite lock first
                end_session(session.sid)
            response.delete_cookie(name, domain=domain, path=path)
            return
        if not session.modified and not session._rotate:
            return
        user_id = session.get("_user_id")
        if not session.sid and user_id is None:
            # A visitor: the data rides in the cookie (see module docstring), no row.
            if not session and not getattr(session, "sealed", False):
                return
            if not session:
                response.delete_cookie(name, domain=domain, path=path)
                return
            response.set_cookie(name, _seal(dict(session)), httponly=True, secure=self.get_cookie_secure(app),
                                samesite=self.get_cookie_samesite(app), domain=domain, path=path,
                                max_age=VISITOR_SECONDS)
            response.vary.add("Cookie")
            return
        # The request is over: end its transaction (uncommitted work is discarded by design, the view
        # commits explicitly) so that on SQLite it no longer holds a lock our own write would wait for.
        db.session.rollback()
        user_id = int(user_id) if user_id is not None else None
        from flask import request

        with own_transaction() as s:
            if session._rotate or not session.sid:
                if session.sid:
                    s.execute(delete(WebSession).where(WebSession.sid_hash == _hash(session.sid)))
                session.sid = secrets.token_urlsafe(32)
                s.add(WebSession(sid_hash=_hash(session.sid), user_id=user_id, data=dict(session),
                                 ip=request.remote_addr))
            else:
                result = s.execute(update(WebSession).where(WebSession.sid_hash == _hash(session.sid))
                                   .values(data=dict(session), user_id=user_id))
                if result.rowcount == 0:
                    # The row was ended meanwhile (e.g. password changed elsewhere): do not resurrect it.
                    response.delete_cookie(name, domain=domain, path=path)
                    return
        session._rotate = False
        response.set_cookie(name, session.sid, httponly=True, secure=self.get_cookie_secure(app),
                            samesite=self.get_cookie_samesite(app), domain=domain, path=path)
        response.vary.add("Cookie")


def end_session(sid: str) -> None:
    with own_transaction() as s:
        s.execute(delete(WebSession).where(WebSession.sid_hash == _hash(sid)))


def end_user_sessions_stmt(user_id: int):
    """Statement the caller runs in its own transaction (password change, disabling a user)."""
    return delete(WebSession).where(WebSession.user_id == user_id)
