"""Per-request plumbing: write intent for SQLite, the login loader, the route registry, rollback on error,
forced password change, template globals."""

from __future__ import annotations

from flask import g, redirect, request, url_for
from flask_login import current_user

from core.db import db, reset_write_intent, set_write_intent
from core.extensions import login_manager

READ_METHODS = ("GET", "HEAD", "OPTIONS")
#: Endpoints reachable while a password change is forced.
PASSWORD_CHANGE_ALLOWED = {"accounts.change_password", "accounts.logout", "static", "home.healthz"}


@login_manager.user_loader
def _load_user(user_id: str):
    from core.accounts.models import User

    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    # A service account never holds a session (it cannot sign in interactively); only active people do.
    return user if user is not None and user.is_active and not user.is_service else None


def init_app(app):
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = None  # mobile networks change IPs; server-side sessions do the work

    @app.before_request
    def _begin():
        # Per-request values live in g; clear them in case the app context outlives a request (tests).
        for key in ("actor", "request_id", "required_action"):
            g.pop(key, None)
        g.write_token = set_write_intent(request.method not in READ_METHODS)

    from core.auth.decorators import enforce_route_rules

    app.before_request(enforce_route_rules)

    @app.before_request
    def _force_password_change():
        if not current_user.is_authenticated or request.endpoint in PASSWORD_CHANGE_ALLOWED:
            return None
        if request.endpoint and request.endpoint.endswith(".static"):
            return None
        from core.accounts.operations import password_expired

        if password_expired(current_user):
            from core.auth.decorators import is_api_request

            if is_api_request():
                from core.error_pages import api_error

                return api_error(403, "须先登录网页修改密码，然后才能使用接口", code="password_change_required")
            return redirect(url_for("accounts.change_password"))
        return None

    @app.teardown_request
    def _end(exc):
        if exc is not None:
            db.session.rollback()
        token = g.pop("write_token", None)
        if token is not None:
            reset_write_intent(token)

    @app.context_processor
    def _globals():
        from core.layout import layout_context

        return layout_context()

    from core.timefmt import localtime

    app.jinja_env.globals["CENTER_NAME"] = app.config.get("CENTER_NAME")
    app.jinja_env.filters["localtime"] = localtime
