"""Who is calling the API.

Two ways in:

* ``Authorization: Bearer mdt_…`` — a personal token its owner issued, or a service account's token the
  security administrator issued (core.accounts.tokens). It carries no ambient credential, so it needs no CSRF
  token. When the header is present it alone decides who the caller is (a session cookie sent along is
  ignored); a bad, revoked or expired token, a token that outlived its owner's password, a disabled user or a
  user without an effective membership gets 401 — never a fall-back to the cookie. A service token is scoped:
  an endpoint outside its API actions answers 403 (deny by default: an endpoint with no action below is outside
  every scope), and the request acts only with the account's memberships inside the token's unit subtree
  (``g.actor_within``, read by core.web.current_actor), so cases elsewhere are not found.
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
SCOPE_REFUSED = "该令牌无权调用此接口（超出令牌的接口范围）"

#: The API actions a service token may be scoped to (registered into core.hooks at init_app) …
SCOPES = {"cases.read": "查询事项（列表、详情、办理记录）", "cases.create": "登记事项",
          "cases.transition": "办理事项（状态变更）"}
#: … and the action each endpoint is. A new endpoint is outside every service scope until listed here.
ENDPOINT_SCOPES = {"api.list_cases": "cases.read", "api.search_cases": "cases.read", "api.get_case": "cases.read", "api.case_events": "cases.read",
                   "api.create_case": "cases.create", "api.transition_case": "cases.transition"}


def register_scopes() -> None:
    from core import hooks

    for name, label in SCOPES.items():
        hooks.register_api_scope(name, label)


def is_api() -> bool:
    return request.blueprint == BLUEPRINT


def authenticate():
    g.pop("actor_within", None)
    if not is_api():
        return None
    header = request.headers.get("Authorization")
    if header is None:
        _count_request(session.get("_user_id"))
        return _cookie()
    return _bearer(header)


def _count_request(user_id) -> None:
    """Every API request counts against its account's limit (an anonymous one, or a refused token: its
    address's, so guessing tokens is throttled too) — before the request's transaction begins: the counter
    is written on a short transaction of its own, which on SQLite must not wait for the request's lock."""
    from core import ratelimit
    from core.web import client_ip

    subject = f"user:{user_id}" if user_id is not None else f"ip:{client_ip() or '-'}"
    ratelimit.hit("api.account", subject)


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
        _count_request(None)
        return _refused("malformed", None)
    result = verify_token(value.strip())
    _count_request(result.user_id)
    if result.user_id is None:
        return _refused(result.reason, result.token_id)
    if result.scope_actions is not None:
        if ENDPOINT_SCOPES.get(request.endpoint) not in result.scope_actions:
            return _out_of_scope(result.token_id)
        g.actor_within = result.scope_path
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


def _out_of_scope(token_id: int | None):
    from core.actor import Actor
    from core.audit.operations import record_security_event
    from core.web import client_ip, request_id

    actor = Actor.visitor(ip=client_ip(), request_id=request_id(), channel="api")
    record_security_event(actor, "api.scope_refused", result="denied", object_type="api_tokens",
                          object_id=token_id)
    logger.info("api token %s used outside its scope on %s", token_id, request.endpoint)
    return api_error(403, SCOPE_REFUSED)


def _refused(reason: str | None, token_id: int | None):
    from core.actor import Actor
    from core.audit.operations import record_security_event
    from core.web import client_ip, request_id

    actor = Actor.visitor(ip=client_ip(), request_id=request_id(), channel="api")
    record_security_event(actor, "api.token_refused", result=reason or "failed", object_type="api_tokens",
                          object_id=token_id)
    logger.info("api token refused (%s) from %s", reason, client_ip())
    return api_error(401, TOKEN_REFUSED)
