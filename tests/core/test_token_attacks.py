"""API tokens, attacker paths (三权分立: no account can act as another): nobody issues a token in another person's
name; a token ends with its owner's password change, the account's disabling and its expiry; a service account
never signs in interactively and its token reaches only its API actions and unit subtree. Each attack fails and
changes nothing (tests/core/attack_support)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts.models import ApiToken, Role
from core.db import utcnow
from tests.conftest import login
from tests.core.attack_support import Watch, post_form, sessions_of


def _bearer(plain: str) -> dict:
    return {"Authorization": f"Bearer {plain}"}


def _own_token(db, demo, username: str, **kw) -> str:
    from core.accounts.tokens import issue_token

    _row, plain = issue_token(demo.user(username), label="本人令牌", actor=demo.actor(username), **kw)
    db.session.commit()
    return plain


def _service(db, demo, username: str, places: list[str], role=Role.township_staff):
    from tests.factories import make_user

    return make_user(demo, username, display_name="对接系统", kind="service", memberships=[(role, p) for p in places],
                     commit=True)


def _service_token(db, demo, account, actions, unit: str) -> str:
    from core.accounts.tokens import issue_service_token

    _row, plain = issue_service_token(account, label="对接", actions=actions, unit=demo.unit(unit),
                                      actor=demo.actor("secadmin"))
    db.session.commit()
    return plain


# --- nobody issues a token in another person's name ----------------------------------------------------------


def test_an_admin_cannot_issue_a_token_in_a_clerks_name(app, db, demo, signed_in):
    """Before: the system administrator issued a token for qs.staff on /admin/api-tokens and called the API as
    her. Now: the page refuses him (403), the security administrator gets a Chinese refusal for a person (only
    service accounts), and the operation itself refuses any actor but the owner."""
    from core.accounts.tokens import issue_token
    from core.errors import PermissionDenied

    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, "/admin/api-tokens", {"username": "qs.staff", "label": "冒名", "actions": "cases.read",
                                                      "unit_code": demo.unit("青石镇").code}, page="/admin/api-tokens")
    assert response.status_code == 403
    watch.assert_unchanged()
    sec = signed_in("secadmin")
    refused = post_form(sec, "/admin/api-tokens", {"username": "qs.staff", "label": "冒名", "actions": "cases.read",
                                                   "unit_code": demo.unit("青石镇").code}, page="/admin/api-tokens")
    assert refused.status_code == 422 and "只能为接口服务账户签发令牌" in refused.get_data(as_text=True)
    for who in ("admin", "secadmin", "qs.leader"):
        with pytest.raises(PermissionDenied) as exc:
            issue_token(demo.user("qs.staff"), label="冒名", actor=demo.actor(who))
        assert "本人签发" in exc.value.message
    db.session.rollback()
    watch.assert_unchanged(refusal=None)
    assert db.session.scalar(select(ApiToken.id)) is None


def test_a_service_token_is_not_issued_by_anyone_but_the_security_admin(db, demo):
    from core.accounts.tokens import issue_service_token, issue_token
    from core.errors import PermissionDenied

    account = _service(db, demo, "svc.qs", ["青石镇"])
    with pytest.raises(PermissionDenied):
        issue_service_token(account, label="x", actions=["cases.read"], unit=demo.unit("青石镇"),
                            actor=demo.actor("admin"))
    with pytest.raises(PermissionDenied):  # nor as a "personal" token of the account
        issue_token(account, label="x", actor=demo.actor("admin"))
    db.session.rollback()
    assert db.session.scalar(select(ApiToken.id)) is None


# --- a token ends with its owner's password and account, and expires --------------------------------------------


def test_the_clerks_token_dies_when_her_password_changes(app, db, demo, signed_in):
    """Before: a token outlived every password change, so a leaked token stayed good. Now: 401, and the list says
    why."""
    plain = _own_token(db, demo, "qs.staff")
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 200
    staff = signed_in("qs.staff")
    assert post_form(staff, "/account/password", {"current_password": "Shifan#2026", "new_password": "Eigen#Wort2026",
                                                  "confirm_password": "Eigen#Wort2026"}).status_code == 302
    watch = Watch(db)
    assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 401
    (entry,) = watch.assert_unchanged(refusal="password_changed")
    assert entry.action == "api.token_refused"
    row = db.session.scalar(select(ApiToken))
    assert row.revoked_reason == "password_changed"
    assert "修改密码后失效" in signed_in("qs.staff", "Eigen#Wort2026").get("/account/api-tokens").get_data(as_text=True)


def test_a_token_older_than_the_password_is_refused_even_if_not_revoked(app, db, demo):
    """The second line behind the revocation: verify_token compares the token's age with the password's."""
    from core.actor import Actor
    from core.audit.operations import record

    plain = _own_token(db, demo, "qs.staff")
    user = demo.user("qs.staff")
    user.password_changed_at = utcnow() + timedelta(seconds=1)  # as if the password changed after the token
    record(Actor.system("cli"), "test.password_changed_elsewhere", user, changed=["password_changed_at"])
    db.session.commit()
    assert app.test_client().get("/api/v1/cases", headers=_bearer(plain)).status_code == 401


def test_the_clerks_token_dies_when_her_account_is_disabled_and_stays_dead(app, db, demo, signed_in):
    from core.accounts.operations import set_user_active

    plain = _own_token(db, demo, "qs.staff")
    set_user_active(demo.user("qs.staff"), False, actor=demo.actor("admin"))
    db.session.commit()
    watch = Watch(db)
    assert app.test_client().get("/api/v1/cases", headers=_bearer(plain)).status_code == 401
    watch.assert_unchanged(refusal="disabled")
    set_user_active(demo.user("qs.staff"), True, actor=demo.actor("admin"))
    db.session.commit()
    assert app.test_client().get("/api/v1/cases", headers=_bearer(plain)).status_code == 401  # not resurrected


def test_the_clerks_token_dies_after_expiry(app, db, demo):
    from core.actor import Actor
    from core.audit.operations import record

    plain = _own_token(db, demo, "qs.staff", expires_at=utcnow() + timedelta(hours=1))
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 200
    row = db.session.scalar(select(ApiToken))
    row.expires_at = utcnow() - timedelta(seconds=1)  # an hour passes
    record(Actor.system("cli"), "test.time_passed", row, changed=["expires_at"])
    db.session.commit()
    watch = Watch(db)
    assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 401
    watch.assert_unchanged(refusal="expired")
    # A token from before expiry was compulsory (no expiry stored) lasts the default lifetime from its issue.
    row.expires_at, row.created_at = None, utcnow() - timedelta(days=91)
    record(Actor.system("cli"), "test.time_passed", row, changed=["expires_at"])
    db.session.commit()
    assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 401


# --- service accounts ----------------------------------------------------------------------------------------


def test_a_service_account_cannot_sign_in_with_a_password(app, db, demo):
    """Whatever hash its row holds (say a tampered one), password sign-in refuses a service account exactly like a
    wrong password, and no session exists for it."""
    from core.accounts.passwords import hash_password
    from core.actor import Actor
    from core.audit.operations import record

    account = _service(db, demo, "svc.login", ["青石镇"])
    account.password_hash = hash_password("Gestohlen#2026")
    record(Actor.system("cli"), "test.tampered", account, changed=["password_hash"])
    db.session.commit()
    watch = Watch(db)
    response = login(app.test_client(), "svc.login", "Gestohlen#2026")
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    entries = watch.assert_unchanged(refusal="denied")
    assert {"login.service_account", "login.failed"} <= {e.action for e in entries}
    assert sessions_of(db, account.id) == 0


def test_a_service_account_has_no_password_to_reset(db, demo, signed_in):
    account = _service(db, demo, "svc.reset", ["青石镇"])
    admin = signed_in("admin")
    watch = Watch(db)
    response = post_form(admin, f"/admin/users/{account.id}/password", {"password": "Neu#Passwort2026"},
                         page=f"/admin/users/{account.id}")
    assert response.status_code == 422 and "没有登录密码" in response.get_data(as_text=True)
    watch.assert_unchanged(refusal=None)


def test_a_service_token_outside_its_actions_is_refused(app, db, demo):
    """A read-only service token cannot register a case (403, no case, only the refusal audited)."""
    from center.cases.models import Case

    account = _service(db, demo, "svc.read", ["青石镇"])
    plain = _service_token(db, demo, account, ["cases.read"], "青石镇")
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=_bearer(plain)).status_code == 200
    cases_before = db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    watch = Watch(db)
    response = client.post("/api/v1/cases", headers=_bearer(plain), json={"summary": "越权登记"})
    assert response.status_code == 403 and "超出令牌的接口范围" in response.get_json()["error"]["message"]
    (entry,) = watch.assert_unchanged(refusal="denied")
    assert entry.action == "api.scope_refused"
    assert db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == cases_before


def test_a_service_token_outside_its_unit_subtree_finds_nothing(app, db, demo):
    """The account holds posts at 青石镇 and 柳河镇; its token is scoped to 青石镇: 柳河镇's cases are not found and
    not listed, 青石镇's are."""
    from tests.factories import make_case

    inside, outside = (make_case(demo, "center.li", unit, summary=f"{unit}范围测试", repeat_of=None, commit=True)
                       for unit in ("青石镇", "柳河镇"))
    account = _service(db, demo, "svc.scope", ["青石镇", "柳河镇"])
    plain = _service_token(db, demo, account, ["cases.read"], "青石镇")
    client = app.test_client()
    assert client.get(f"/api/v1/cases/{inside.number}", headers=_bearer(plain)).status_code == 200
    watch = Watch(db)
    assert client.get(f"/api/v1/cases/{outside.number}", headers=_bearer(plain)).status_code == 404
    assert client.get(f"/api/v1/cases/{outside.number}/events", headers=_bearer(plain)).status_code == 404
    watch.assert_unchanged(refusal=None)
    numbers = {c["number"] for c in client.get("/api/v1/cases", query_string={"limit": 100},
                                               headers=_bearer(plain)).get_json()["items"]}
    assert inside.number in numbers and outside.number not in numbers
    # The same account with a token over the district sees both (the subtree narrows, it never widens).
    wide = _service_token(db, demo, account, ["cases.read"], "示范区")
    assert client.get(f"/api/v1/cases/{outside.number}", headers=_bearer(wide)).status_code == 200


def test_a_service_token_scope_must_cover_a_post_of_the_account(db, demo):
    from core.accounts.tokens import issue_service_token
    from core.errors import ValidationFailed

    account = _service(db, demo, "svc.nowhere", ["青石镇"])
    with pytest.raises(ValidationFailed) as exc:
        issue_service_token(account, label="x", actions=["cases.read"], unit=demo.unit("柳河镇"),
                            actor=demo.actor("secadmin"))
    assert "没有有效岗位" in exc.value.errors["unit_code"][0]
    with pytest.raises(ValidationFailed) as exc:
        issue_service_token(account, label="x", actions=["cases.delete_everything"], unit=demo.unit("青石镇"),
                            actor=demo.actor("secadmin"))
    assert "actions" in exc.value.errors
    db.session.rollback()
