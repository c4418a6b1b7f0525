"""Who is calling the API.

Two ways in:

* ``Authorization: Bearer mdt_…`` — a token issued by an admin (core.accounts.tokens). It carries no ambient
  credential, so it needs no CSRF token. When the header is present it alone decides who the caller is (a
  session cookie sent along is ignored); a bad, revoked or expired token, a disabled user or a user without
  an effective membership gets 401 — never a fall-back to the cookie.
* The session cookie of the web pages — then every non-GET request must carry the page's CSRF token in the
  ``X-CSRFToken`` header (Flask-WTF validates it, as it does for forms).

``authenticate`` runs as an application ``before_request`` registered by center.api.init_app: after
Flask-WTF's own check (the API views are exempt from it, see views.py) and before the kernel's hooks
(core.web_hooks) and the route guard (core.auth.decorators.enforce_route_rules), which then sees the token's
user as ``current_user`` and builds the same Actor as for a page (channel "api" under /api/). Errors use the
kernel's JSON envelope (core.error_pages.api_error).
"""

from __future__ import annotations

import logging

from flask import g, request, session

from core.db import db, reset_write_intent, set_write_intent
from core.error_pages import api_error

logger = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD", "OPTIONS")
BLUEPRINT = "api"
CSRF_HEADER = "X-CSRFToken"

TOKEN_REFUSED = "访问令牌无效、已过期或已撤销"


def is_api() -> bool:
    return request.blueprint == BLUEPRINT


def authenticate():
    if not is_api():
        return None
    header = request.headers.get("Authorization")
    if header is None:
        return _cookie()
    return _bearer(header)


def _cookie():
    # An anonymous request carries no credential to abuse; the route guard answers it 401.
    if request.method not in READ_METHODS and session.get("_user_id") is not None:
        from core.extensions import csrf

        csrf.protect()  # raises CSRFError → 400 (center.api.views registers the JSON answer)
    return None


def _bearer(header: str):
    from core.accounts.tokens import verify_token

    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return _refused("malformed", None)
    result = verify_token(value.strip())
    if result.user_id is None:
        return _refused(result.reason, result.token_id)
    from core.accounts.models import User

    # The request's transaction starts here: begin it the way core.web_hooks would (BEGIN IMMEDIATE on SQLite
    # for a write request), since that hook runs after this one.
    token = set_write_intent(request.method not in READ_METHODS)
    try:
        user = db.session.get(User, result.user_id)
    finally:
        reset_write_intent(token)
    g._login_user = user  # flask-login's per-request user: the token's user, whatever the cookie says
    g.api_token_id = result.token_id
    return None


def _refused(reason: str | None, token_id: int | None):
    from core.actor import Actor
    from core.audit.operations import record_security_event
    from core.web import client_ip, request_id

    actor = Actor.visitor(ip=client_ip(), request_id=request_id(), channel="api")
    record_security_event(actor, "api.token_refused", result=reason or "failed", object_type="api_tokens",
                          object_id=token_id)
    logger.info("api token refused (%s) from %s", reason, client_ip())
    return api_error(401, TOKEN_REFUSED)
