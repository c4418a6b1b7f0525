"""The JSON API under /api/v1 and its OpenAPI document (DESIGN.md §1 center/api/).

``init_app`` registers the blueprint and the application-level hook that authenticates API requests (bearer
token or session cookie + CSRF header, center.api.auth); errors come in the kernel's JSON envelope.
"""


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    from center.api import auth, views

    app.register_blueprint(views.bp)
    auth.register_scopes()  # the API actions a service token may be scoped to (core.accounts.tokens)
    # Registered here, after Flask-WTF's own check (the API views are exempt from it) and before core.web_hooks'
    # hooks and the route guard (registered after the features), which then see the token's user.
    app.before_request(auth.authenticate)
    from core import hooks

    hooks.register_audit_labels({
        "api.scope_refused": "接口令牌超出范围被拒绝", "api.token_refused": "接口令牌被拒绝",
    })
