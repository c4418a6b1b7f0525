"""Route registry: every view is ``@public`` or ``@permission("...")``, enforced in one before_request.

Deny by default: a route registered with neither answers 403 and logs an error (and the route-registry
test fails on it). Anonymous requests to protected pages are redirected to the login page; API paths
(/api/...) answer 401 JSON.
"""

from __future__ import annotations

import logging

from flask import current_app, g, redirect, request, url_for
from flask_login import current_user

from core.auth.permissions import has_permission

logger = logging.getLogger(__name__)

#: Endpoints that are public without a decorator (static files served by Flask itself).
PUBLIC_ENDPOINTS = {"static"}


def public(view):
    view.__public__ = True
    return view


def permission(action: str):
    """The view requires ``action`` (object-level checks follow inside the operation)."""

    def deco(view):
        view.__permission__ = action
        return view

    return deco


def route_rule(endpoint: str) -> tuple[bool, str | None]:
    """(is_public, permission) for an endpoint."""
    if endpoint in PUBLIC_ENDPOINTS or endpoint.endswith(".static"):
        return True, None
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "__public__", False)), getattr(view, "__permission__", None)


def is_api_request() -> bool:
    from core.error_pages import is_api_path

    return is_api_path(request.path)


def enforce_route_rules():
    endpoint = request.endpoint
    if endpoint is None:  # 404/405 handled by Flask
        return None
    is_public, action = route_rule(endpoint)
    if is_public:
        return None
    if action is None:
        logger.error("route %s is registered neither public nor with a permission", endpoint)
        return _forbidden()
    if not current_user.is_authenticated:
        if is_api_request():
            from core.error_pages import api_error

            return api_error(401)
        target = request.full_path.rstrip("?")
        from core import hooks

        for entry in hooks.sign_in_entries:  # e.g. WeChat's silent sign-in inside the WeChat browser
            url = entry(request, target)
            if url:
                return redirect(url)
        return redirect(url_for("accounts.login", next=target))
    from core.web import current_actor

    actor = current_actor()
    if not has_permission(actor, action):
        from core.audit.operations import record_security_event
        from core.db import db

        # Release the request's transaction first: on SQLite a POST holds the write lock from its first
        # query, and the denial is written on a connection of its own.
        db.session.rollback()

        record_security_event(actor, "permission.denied", result="denied", object_type="route",
                              object_id=endpoint)
        return _forbidden()
    g.required_action = action
    return None


def _forbidden():
    from flask import render_template

    if is_api_request():
        from core.error_pages import api_error

        return api_error(403)
    return render_template("core/error.html", code=403, message="您没有访问此页面的权限"), 403
