"""Who is calling the API, and the one error envelope of /api/v1.

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
user as ``current_user`` and builds the same Actor as for a page, with channel "api" (core.web.current_actor
is called with it first here).
"""

from __future__ import annotations

import logging

from flask import g, jsonify, request, session

from core.db import db, reset_write_intent, set_write_intent

logger = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD", "OPTIONS")
BLUEPRINT = "api"
CSRF_HEADER = "X-CSRFToken"
PREFIX = "/api/v1"

#: Error codes by HTTP status (a 422 without field errors is a refused transition).
CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
         422: "validation_failed", 429: "too_many_requests", 500: "server_error"}
MESSAGES = {401: "请先登录或提供有效的访问令牌", 404: "未找到该对象", 500: "系统内部错误，请稍后重试"}
TOKEN_REFUSED = "访问令牌无效、已过期或已撤销"


def error_response(status: int, message: str | None = None, fields: dict | None = None, code: str | None = None):
    if code is None:
        code = CODES.get(status, "error")
        if status == 422 and not fields:
            code = "invalid_transition"
    body = {"error": {"code": code, "message": message or MESSAGES.get(status, "请求无法处理"),
                      "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


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
    return error_response(401, TOKEN_REFUSED)


def use_api_channel():
    """Blueprint before_request: the route guard built the caller's Actor for channel "web"; the API's is "api"."""
    import dataclasses

    from core.web import current_actor

    g.actor = dataclasses.replace(current_actor(), channel="api")


def in_api_namespace() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def normalize_error(response):
    """Application after_request: every error under /api/v1 in our envelope — the route guard's 401/403 and
    core.error_pages' 404/405/413/422/500 bodies are rewritten, and the kernel's redirect of a user who must
    change their password (core.web_hooks) becomes a 403 (the API never answers with an HTML page)."""
    if not in_api_namespace():
        return response
    if response.status_code in (301, 302, 303, 307, 308):
        from urllib.parse import urlsplit

        from flask import url_for

        if urlsplit(response.headers.get("Location", "")).path == url_for("accounts.change_password"):
            return error_response(403, "须先登录网页修改密码，然后才能使用接口", code="password_change_required")
        return response
    if response.status_code < 400 or not response.is_json:
        return response
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or isinstance(body.get("error"), dict):
        return response
    fixed = error_response(response.status_code, body.get("message"), body.get("errors"))
    for key, value in response.headers.items():
        if key.lower() not in ("content-type", "content-length"):
            fixed.headers.setdefault(key, value)
    return fixed
