"""Registry specs of the JSON API and the API-token admin pages (see tests/specs/__init__.py).

The /api/v1 POST routes are not HTML forms: they are exempt from Flask-WTF's default check (a bearer request has
no CSRF token to send) and check the X-CSRFToken header themselves for cookie requests (center.api.auth), so
``form_endpoints`` leaves them out; their bad input is tested in tests/center/test_api.py.
"""

from __future__ import annotations

from tests.specs.base import FormSpec


def _token_id(j) -> int:
    """A live token of a user inside j.user's jurisdiction (issued by the system: j.user may lack user.manage)."""
    from core.accounts.models import User
    from core.accounts.tokens import issue_token
    from core.actor import Actor

    holder = j.db.session.get(User, j.user_id())
    row, _plain = issue_token(holder, label="路由测试", actor=Actor.system("cli"))
    j.db.session.commit()
    return row.id


def _demo_token_id(demo) -> int:
    from core.accounts.tokens import issue_token
    from core.actor import Actor

    row, _plain = issue_token(demo.user("qs01.cadre"), label="坏输入测试", actor=Actor.system("cli"))
    demo.db.session.commit()
    return row.id


FORM_SPECS = {
    "api_tokens.issue": FormSpec(
        "admin", page=lambda demo: "/admin/api-tokens", schema="core.accounts.token_views.TokenIssueArgs",
        valid=lambda demo: {"username": "qs01.cadre", "label": "坏输入测试对接", "expires_on": ""}),
    "api_tokens.revoke": FormSpec("admin", lambda demo: {"token_id": _demo_token_id(demo)},
                                  lambda demo: "/admin/api-tokens"),
}

URL_PARAMS = {"token_id": _token_id}


def _screens():
    from tests.browser.screens import Screen

    return [
        Screen("api-tokens", "admin", "/admin/api-tokens", "签发令牌"),
        Screen("api-tokens-invalid", "admin", "/admin/api-tokens", "签发令牌", status=422,
               submit_invalid={"f-username": "nobody.at.all", "f-label": "测试"}),
    ]


SCREENS = _screens()
