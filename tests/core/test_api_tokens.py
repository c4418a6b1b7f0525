"""API tokens: the admin pages issue a token shown once (only its SHA-256 stored), list and revoke it, inside the
admin's jurisdiction; every step audited; other users are refused."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta

from sqlalchemy import select

from tests.conftest import csrf_from

TOKEN_RE = re.compile(r'value="(mdt_[A-Za-z0-9_-]{43})"')


def _issue(client, **fields) -> str:
    """Issue through the page; the plain token shown once."""
    response = _issue_page(client, **fields)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return TOKEN_RE.search(client.get(response.headers["Location"]).get_data(as_text=True)).group(1)


def _issue_page(client, **fields):
    page = client.get("/admin/api-tokens")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/admin/api-tokens", data={"csrf_token": token, **fields})


def test_issue_shows_the_token_once_and_stores_only_its_hash(app, db, demo, signed_in):
    from core.accounts.models import ApiToken, WebSession
    from core.audit.models import AuditEntry

    admin = signed_in("admin")
    response = _issue_page(admin, username="qs.staff", label="12345 热线平台对接")
    assert response.status_code == 302  # post/redirect/get: a reload cannot mint a second token
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == demo.user("qs.staff").id))
    assert response.headers["Location"].endswith(f"/admin/api-tokens/{row.id}/issued")
    shown = admin.get(response.headers["Location"])
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    plain = TOKEN_RE.search(shown.get_data(as_text=True)).group(1)
    again = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert plain not in again and "无法再次查看" in again  # shown once
    sessions = " ".join(str(d) for d in db.session.scalars(select(WebSession.data)))
    assert plain not in sessions and "api_token_shown" not in sessions
    assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert row.prefix == plain[:12] and row.label == "12345 热线平台对接"
    assert row.created_by_user_id == demo.user("admin").id and row.expires_at is None
    stored = [str(v) for v in db.session.execute(select(ApiToken.__table__)).one()]
    assert plain not in stored
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.issued"))
    assert entry.object_id == str(row.id) and entry.actor_user_id == demo.user("admin").id
    assert plain not in str(entry.changed_fields)
    listing = admin.get("/admin/api-tokens").get_data(as_text=True)
    assert row.prefix in listing and plain not in listing and "12345 热线平台对接" in listing
    # the token works
    assert app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {plain}"}).status_code == 200


def test_issue_with_an_expiry_day(app, db, demo, signed_in):
    from core.accounts.models import ApiToken

    day = date.today() + timedelta(days=30)
    _issue(signed_in("admin"), username="qs.staff", label="限期对接", expires_on=day.isoformat())
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "限期对接"))
    assert row.expires_at is not None
    assert (row.expires_at - row.created_at) > timedelta(days=29)


def test_issue_refuses_bad_input_in_chinese_and_saves_nothing(app, db, demo, signed_in):
    from core.accounts.models import ApiToken

    admin = signed_in("admin")
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    for fields, field in (({"username": "nobody.at.all", "label": "x"}, "用户不存在"),
                          ({"username": "qs.staff", "label": ""}, "此项为必填项"),
                          ({"username": "qs.staff", "label": "长" * 101}, "长度应为"),
                          ({"username": "qs.staff", "label": "过期", "expires_on": yesterday}, "有效期"),
                          ({"username": "qs.staff", "label": "日期", "expires_on": "明天"}, "有效日期")):
        response = _issue_page(admin, **fields)
        assert response.status_code == 422, fields
        assert field in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken.id)) is None


def test_revoke_is_audited_and_the_token_stops_working(app, db, demo, signed_in):
    from core.accounts.models import ApiToken
    from core.audit.models import AuditEntry

    admin = signed_in("admin")
    plain = _issue(admin, username="qs.staff", label="待撤销")
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "待撤销"))
    page = admin.get("/admin/api-tokens")
    response = admin.post(f"/admin/api-tokens/{row.id}/revoke",
                          data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302
    db.session.expire_all()
    assert row.revoked_at is not None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoked",
                                                      AuditEntry.object_id == str(row.id))) is not None
    assert "已撤销" in admin.get("/admin/api-tokens").get_data(as_text=True)
    answer = app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {plain}"})
    assert answer.status_code == 401


def test_users_without_user_manage_are_refused(app, db, demo, signed_in):
    for username in ("qs.staff", "secadmin", "auditor"):
        client = signed_in(username)
        assert client.get("/admin/api-tokens").status_code == 403
        page = client.get("/account/password")
        response = client.post("/admin/api-tokens", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                          "username": "qs.staff", "label": "越权"})
        assert response.status_code == 403


def test_an_admin_outside_the_users_jurisdiction_cannot_issue_list_or_revoke(app, db, demo, signed_in):
    """A user of another district: not found for this district's admin (422 on the form, 404 on revoke)."""
    from core.accounts.models import ApiToken, Role
    from core.accounts.operations import create_user
    from core.accounts.tokens import issue_token
    from core.actor import Actor
    from core.org.models import UnitKind
    from core.org.operations import create_unit

    system = Actor.system("cli")
    other = create_unit(kind=UnitKind.district, code="990299000000", name="邻区", parent=None, actor=system,
                        case_prefix="LQ")
    stranger = create_user(username="lq.staff", display_name="邻区职员", title=None, password="Linqu#2026abc",
                           actor=system, memberships=[(Role.center_staff, other)], must_change=False)
    row, _plain = issue_token(stranger, label="邻区对接", actor=system)
    db.session.commit()
    admin = signed_in("admin")
    response = _issue_page(admin, username="lq.staff", label="跨区")
    assert response.status_code == 422 and "不在您的管辖范围内" in response.get_data(as_text=True)
    assert "邻区对接" not in admin.get("/admin/api-tokens").get_data(as_text=True)
    page = admin.get("/admin/api-tokens")
    response = admin.post(f"/admin/api-tokens/{row.id}/revoke",
                          data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is None


def test_tokens_are_not_issued_to_disabled_users(app, db, demo):
    import pytest

    from core.accounts.operations import set_user_active
    from core.accounts.tokens import issue_token
    from core.errors import ValidationFailed

    set_user_active(demo.user("qs01.cadre"), False, actor=demo.actor("admin"))
    with pytest.raises(ValidationFailed) as exc:
        issue_token(demo.user("qs01.cadre"), label="停用", actor=demo.actor("admin"))
    assert "username" in exc.value.errors
    db.session.rollback()


def test_the_token_page_fits_the_admin_menu(app, db, demo, signed_in):
    home = signed_in("admin").get("/admin/api-tokens").get_data(as_text=True)
    assert "接口令牌" in home and 'href="/admin/api-tokens"' in home
