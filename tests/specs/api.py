"""Registry specs of the JSON API and the API-token admin pages (see tests/specs/__init__.py).

The /api/v1 POST routes are not HTML forms: they are exempt from Flask-WTF's default check (a bearer request has
no CSRF token to send) and check the X-CSRFToken header themselves for cookie requests (center.api.auth), so
``form_endpoints`` leaves them out; their bad input is tested in tests/center/test_api.py.
"""

from __future__ import annotations

from tests.specs.base import FormSpec


def _token_id(j) -> int:
    """A live token of j.user's own (its own-token pages show only those), else of a user inside j.user's
    jurisdiction; issued by the console, which needs no permission."""
    from core.accounts.models import User
    from core.accounts.tokens import issue_token
    from core.actor import Actor

    holder = j.user if any(m.is_effective for m in j.user.memberships) else j.db.session.get(User, j.user_id())
    row, _plain = issue_token(holder, label="路由测试", actor=Actor.system("cli"))
    j.db.session.commit()
    return row.id


def _demo_token_id(demo, username="qs01.cadre") -> int:
    from core.accounts.tokens import issue_token
    from core.actor import Actor

    row, _plain = issue_token(demo.user(username), label="坏输入测试", actor=Actor.system("cli"))
    demo.db.session.commit()
    return row.id


def _service_account(demo) -> str:
    """A service account with an active membership at the district (created once per test)."""
    if demo.user("svc.badinput") is None:
        from core.accounts.models import Role
        from core.accounts.operations import create_user
        from core.actor import Actor

        create_user(username="svc.badinput", display_name="热线平台", password=None, title=None,
                    actor=Actor.system("cli"), memberships=[(Role.center_staff, demo.unit("示范区"))],
                    kind="service", activate=True)
        demo.db.session.commit()
    return "svc.badinput"


FORM_SPECS = {
    "api_tokens.issue": FormSpec(
        "secadmin", page=lambda demo: "/admin/api-tokens", schema="core.accounts.schemas.ServiceTokenArgs",
        valid=lambda demo: {"username": _service_account(demo), "label": "坏输入测试对接", "expires_on": "",
                            "actions": "cases.read", "unit_code": demo.unit("示范区").code}),
    "api_tokens.revoke": FormSpec("admin", lambda demo: {"token_id": _demo_token_id(demo)},
                                  lambda demo: "/admin/api-tokens"),
    "own_tokens.issue": FormSpec(
        "qs.staff", page=lambda demo: "/account/api-tokens", schema="core.accounts.schemas.OwnTokenArgs",
        valid=lambda demo: {"label": "本人脚本", "expires_on": ""}),
    "own_tokens.revoke": FormSpec("qs.staff", lambda demo: {"token_id": _demo_token_id(demo, "qs.staff")},
                                  lambda demo: "/account/api-tokens"),
}

URL_PARAMS = {"token_id": _token_id}


def _screens():
    from tests.browser.screens import Screen

    return [
        Screen("api-tokens", "secadmin", "/admin/api-tokens", "签发令牌"),
        Screen("api-tokens-invalid", "secadmin", "/admin/api-tokens", "签发令牌", status=422,
               submit_invalid={"f-username": "nobody.at.all", "f-label": "测试"}),
        Screen("own-api-tokens", "qs.staff", "/account/api-tokens", "我的接口令牌"),
    ]


SCREENS = _screens()
