"""API tokens are personal: a user issues a token under their own account (shown once, only its SHA-256
stored), lists and revokes their own; an administrator lists and revokes any token in their jurisdiction; the
security administrator issues scoped tokens to service accounts. Every step audited. The attacker paths are in
test_token_attacks.py."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta

from sqlalchemy import select

from tests.conftest import csrf_from
from tests.core.attack_support import post_form

TOKEN_RE = re.compile(r'value="(mdt_[A-Za-z0-9_-]{43})"')
OWN = "/account/api-tokens"


def _issue_page(client, **fields):
    page = client.get(OWN)
    assert page.status_code == 200
    return client.post(OWN, data={"csrf_token": csrf_from(page.get_data(as_text=True)), **fields})


def _issue(client, **fields) -> str:
    response = _issue_page(client, **fields)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return TOKEN_RE.search(client.get(response.headers["Location"]).get_data(as_text=True)).group(1)


def test_a_user_issues_a_token_shown_once_and_stored_as_a_hash(app, db, demo, signed_in):
    from core.accounts.models import ApiToken, WebSession
    from core.audit.models import AuditEntry

    staff = signed_in("qs.staff")
    assert "我的接口令牌" in staff.get("/account").get_data(as_text=True)
    response = _issue_page(staff, label="本人办公脚本")
    assert response.status_code == 302  # post/redirect/get: a reload cannot mint a second token
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == demo.user("qs.staff").id))
    assert response.headers["Location"].endswith(f"{OWN}/{row.id}/issued")
    shown = staff.get(response.headers["Location"])
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    plain = TOKEN_RE.search(shown.get_data(as_text=True)).group(1)
    again = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert plain not in again and "无法再次查看" in again  # shown once
    sessions = " ".join(str(d) for d in db.session.scalars(select(WebSession.data)))
    assert plain not in sessions and "api_token_shown" not in sessions
    assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert row.prefix == plain[:12] and row.label == "本人办公脚本"
    assert row.created_by_user_id == demo.user("qs.staff").id and row.scope_actions is None
    # Tokens expire: 90 days unless a shorter lifetime is chosen.
    assert timedelta(days=89) < row.expires_at - row.created_at <= timedelta(days=90)
    stored = [str(v) for v in db.session.execute(select(ApiToken.__table__)).one()]
    assert plain not in stored
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.issued"))
    assert entry.object_id == str(row.id) and entry.actor_user_id == demo.user("qs.staff").id
    assert plain not in str(entry.changed_fields)
    listing = staff.get(OWN).get_data(as_text=True)
    assert row.prefix in listing and plain not in listing and "本人办公脚本" in listing
    assert app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {plain}"}).status_code == 200


def test_a_shorter_lifetime_may_be_chosen_a_longer_one_not(db, demo, signed_in):
    from core.accounts.models import ApiToken

    staff = signed_in("qs.staff")
    _issue(staff, label="限期对接", expires_on=(date.today() + timedelta(days=30)).isoformat())
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "限期对接"))
    assert timedelta(days=29) < row.expires_at - row.created_at < timedelta(days=32)
    too_long = _issue_page(staff, label="长期", expires_on=(date.today() + timedelta(days=200)).isoformat())
    assert too_long.status_code == 422 and "最长 90 天" in too_long.get_data(as_text=True)


def test_issue_refuses_bad_input_in_chinese_and_saves_nothing(db, demo, signed_in):
    from core.accounts.models import ApiToken

    staff = signed_in("qs.staff")
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    for fields, message in (({"label": ""}, "此项为必填项"), ({"label": "长" * 101}, "长度应为"),
                            ({"label": "过期", "expires_on": yesterday}, "有效期"),
                            ({"label": "日期", "expires_on": "明天"}, "有效日期")):
        response = _issue_page(staff, **fields)
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken.id)) is None


def test_a_user_revokes_his_own_token_and_it_stops_working(app, db, demo, signed_in):
    from core.accounts.models import ApiToken
    from core.audit.models import AuditEntry

    staff = signed_in("qs.staff")
    plain = _issue(staff, label="待撤销")
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "待撤销"))
    assert post_form(staff, f"{OWN}/{row.id}/revoke", {}, page=OWN).status_code == 302
    db.session.expire_all()
    assert row.revoked_at is not None and row.revoked_reason == "revoked"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoked",
                                                      AuditEntry.object_id == str(row.id))) is not None
    assert "已撤销" in staff.get(OWN).get_data(as_text=True)
    assert app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_another_users_token_is_not_found_on_the_own_pages(db, demo, signed_in):
    from core.accounts.models import ApiToken

    _issue(signed_in("qs.staff"), label="李的令牌")
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "李的令牌"))
    other = signed_in("qs.leader")
    assert other.get(f"{OWN}/{row.id}/issued").status_code == 404
    assert post_form(other, f"{OWN}/{row.id}/revoke", {}, page=OWN).status_code == 404
    assert "李的令牌" not in other.get(OWN).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is None


def test_administrators_list_and_revoke_any_token_in_their_jurisdiction(app, db, demo, signed_in):
    from core.accounts.models import ApiToken

    plain = _issue(signed_in("qs.staff"), label="管理员撤销")
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "管理员撤销"))
    for username in ("admin", "secadmin"):
        listing = signed_in(username).get("/admin/api-tokens").get_data(as_text=True)
        assert "管理员撤销" in listing and row.prefix in listing and plain not in listing
    sec = signed_in("secadmin")
    assert post_form(sec, f"/admin/api-tokens/{row.id}/revoke", {}, page="/admin/api-tokens").status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is not None
    assert app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_users_without_token_revoke_get_no_admin_list(signed_in):
    for username in ("qs.staff", "auditor", "leader.wang"):
        client = signed_in(username)
        assert client.get("/admin/api-tokens").status_code == 403
        assert post_form(client, "/admin/api-tokens", {"username": "qs.staff", "label": "越权"}).status_code == 403


def test_an_admin_outside_the_users_jurisdiction_cannot_list_or_revoke(db, demo, signed_in):
    """A user of another district: not found for this district's administrators."""
    from core.accounts.models import ApiToken, Role
    from core.accounts.tokens import issue_token
    from core.actor import Actor
    from tests.factories import make_unit, make_user

    other = make_unit(db, "邻区", code="990299000000", case_prefix="LQ")
    stranger = make_user(db, "lq.staff", display_name="邻区职员", password="Linqu#2026abc", role=Role.center_staff,
                         place=other)
    row, _plain = issue_token(stranger, label="邻区对接", actor=Actor.for_user(stranger))
    db.session.commit()
    admin = signed_in("admin")
    assert "邻区对接" not in admin.get("/admin/api-tokens").get_data(as_text=True)
    assert post_form(admin, f"/admin/api-tokens/{row.id}/revoke", {}, page="/admin/api-tokens").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is None


def test_the_security_admin_issues_a_scoped_token_to_a_service_account(app, db, demo, signed_in):
    from core.accounts.models import ApiToken

    admin = signed_in("admin")
    created = post_form(admin, "/admin/users/new", {
        "username": "svc.hotline", "display_name": "12345 热线平台", "kind": "service", "role": "center_staff",
        "unit_code": demo.unit("示范区").code}, page="/admin/users/new")
    assert created.status_code == 302, created.get_data(as_text=True)[:300]
    sec = signed_in("secadmin")
    m = demo.user("svc.hotline").memberships[0]
    assert post_form(sec, f"/admin/memberships/{m.id}/activate", {}, page="/admin/memberships/pending"
                     ).status_code == 302
    page = sec.get("/admin/api-tokens")
    assert "svc.hotline" in page.get_data(as_text=True)
    issued = sec.post("/admin/api-tokens", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "username": "svc.hotline", "label": "12345 对接",
        "actions": ["cases.read", "cases.create"], "unit_code": demo.unit("示范区").code})
    assert issued.status_code == 302, issued.get_data(as_text=True)[:500]
    shown = sec.get(issued.headers["Location"]).get_data(as_text=True)
    plain = TOKEN_RE.search(shown).group(1)
    assert "登记事项" in shown and "示范区及下级" in shown
    row = db.session.scalar(select(ApiToken).where(ApiToken.label == "12345 对接"))
    assert row.scope_actions == ["cases.create", "cases.read"] and row.scope_unit_id == demo.unit("示范区").id
    assert row.created_by_user_id == demo.user("secadmin").id
    assert app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
