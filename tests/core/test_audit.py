"""Audit: append-only on the engine, read-only routes, 三权分立, one row per UI write with field names only,
security events that survive a rolled-back request, and the test guard."""

from __future__ import annotations

import contextlib
import itertools
import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from core.accounts.models import Role, User
from core.accounts.permissions import SELF
from core.accounts.policy import FIELDS, invalidate_cache
from core.audit.models import AuditEntry
from core.auth.decorators import route_rule
from core.auth.registry import registered_permissions
from tests import dbutil
from tests.conftest import (
    DEMO_PASSWORD,
    csrf_from,
    csrf_token,
    fresh_migrated_url,
    login,
    make_app,
)

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def new_client(app):
    return app.test_client()




@pytest.fixture(scope="module")
def committed_url(tmp_path_factory, migrated_template):
    """One fresh migrated database with the demo for this module's tests of committed data (they use
    distinct users and request ids, so they can share it)."""
    url = fresh_migrated_url(tmp_path_factory.mktemp("audit"), migrated_template)
    yield url
    dbutil.drop_database(url)


# --- append-only on the engine ------------------------------------------------------------------------------

def test_audit_rows_cannot_be_changed_on_the_engine(committed_url):
    engine = create_engine(committed_url)
    try:
        with engine.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM audit_entries")).scalar()
        assert before >= 1  # loading the demo wrote its row
        statements = ["UPDATE audit_entries SET action = 'tampered'",
                      "UPDATE audit_entries SET changed_fields = NULL WHERE id = (SELECT min(id) FROM audit_entries)",
                      "DELETE FROM audit_entries",
                      "DELETE FROM audit_entries WHERE id = (SELECT max(id) FROM audit_entries)"]
        if dbutil.ENGINE == "postgresql":
            statements.append("TRUNCATE audit_entries")
        for statement in statements:
            with engine.connect() as conn:
                # TRUNCATE on PostgreSQL: audit_seals' foreign key refuses it before the trigger does
                with pytest.raises(DBAPIError, match="append-only|referenced in a foreign key"):
                    conn.execute(text(statement))
                conn.rollback()
        with engine.begin() as conn:  # appending still works
            conn.execute(text("INSERT INTO audit_entries (at, actor_name, action, result, changed_fields) "
                              "VALUES (CURRENT_TIMESTAMP, 'test', 'test.append', 'ok', '[]')"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar() == before + 1
            assert conn.execute(text("SELECT count(*) FROM audit_entries WHERE action = 'tampered'")).scalar() == 0
    finally:
        engine.dispose()


def test_no_route_writes_to_the_audit_log(app):
    audit_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("audit.") or "audit" in r.rule]
    assert audit_rules, "the audit log page is registered"
    for rule in audit_rules:
        assert rule.methods <= READ_METHODS, (rule.rule, rule.methods)


# --- 三权分立 -----------------------------------------------------------------------------------------------------

def test_system_admin_cannot_read_the_audit_log(signed_in):
    admin = signed_in("admin")
    assert admin.get("/admin/audit").status_code == 403
    assert admin.get("/admin/security").status_code == 403
    assert admin.get("/admin/org").status_code in (200, 302)  # but runs the org tree


def test_auditor_reads_the_audit_log_and_nothing_else(signed_in):
    auditor = signed_in("auditor")
    page = auditor.get("/admin/audit?action=demo.")
    assert page.status_code == 200 and "加载示范数据" in page.get_data(as_text=True)
    assert auditor.get("/admin/users").status_code == 403
    assert auditor.get("/admin/security").status_code == 403


def _write_rules(app):
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods - READ_METHODS)
        if not methods:
            continue
        with app.app_context():
            is_public, action = route_rule(rule.endpoint)
        yield rule, methods, is_public, action


def _build(app, rule, method):
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if kind == "IntegerConverter":
            values[name] = 1
        elif kind == "UUIDConverter":
            values[name] = uuid.uuid4()
        elif getattr(converter, "items", None):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "x"
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def test_auditor_gets_403_on_every_write_route(app, signed_in):
    auditor = signed_in("auditor")
    token = csrf_token(auditor)
    auditor_perms = {name for name, spec in registered_permissions().items() if Role.auditor in spec.roles}
    checked = []
    for rule, methods, is_public, action in _write_rules(app):
        if is_public or action in auditor_perms:
            continue
        for method in methods:
            url = _build(app, rule, method)
            response = auditor.open(url, method=method, data={"csrf_token": token},
                                    headers={"X-CSRFToken": token})
            assert response.status_code == 403, (method, url, response.status_code)
            checked.append(rule.endpoint)
    assert {"users.new", "users.security_policy", "users.unlock", "org.unit_edit"} <= set(checked)


POLICY_FORM = {"min_length": 10, "min_classes": 3, "rotation_days": 60, "lockout_threshold": 5,
               "lockout_minutes": 20, "idle_minutes": 20, "absolute_hours": 8, "password_history": 6}


@pytest.fixture()
def policy_reset():
    invalidate_cache()
    yield
    invalidate_cache()


@pytest.mark.parametrize("username", ["admin", "auditor", "leader.wang", "center.li", "qs.staff", "qs01.head",
                                      "xinfang.head", "cg01.g1"])
def test_only_the_security_admin_sets_the_policy(signed_in, username, policy_reset):
    c = signed_in(username)
    response = c.post("/admin/security", data={"csrf_token": csrf_token(c), **POLICY_FORM})
    assert response.status_code == 403


def test_security_admin_sets_the_policy_but_reads_no_audit_and_manages_no_users(signed_in, db, policy_reset):
    sec = signed_in("secadmin")
    response = sec.post("/admin/security", data={"csrf_token": csrf_token(sec, "/admin/security"), **POLICY_FORM})
    assert response.status_code == 302
    assert db.session.execute(text("SELECT min_length, idle_minutes FROM security_policies")).one() == (10, 20)
    assert sec.get("/admin/audit").status_code == 403
    assert sec.post("/admin/users/new", data={"csrf_token": csrf_token(sec)}).status_code == 403


# --- one row per UI write, names only ----------------------------------------------------------------------------

_rid = itertools.count(1)


def _post(c, path, data, *, form_page=None):
    rid = f"audit-test-{uuid.uuid4().hex[:12]}-{next(_rid)}"
    token = csrf_token(c, form_page or "/account/password")
    response = c.post(path, data={"csrf_token": token, **data}, headers={"X-Request-Id": rid})
    return response, rid


def _entries(db, rid):
    db.session.expire_all()
    return db.session.scalars(select(AuditEntry).where(AuditEntry.client_request_id == rid)).all()


def _row_text(entry) -> str:
    return " ".join(str(getattr(entry, c.key)) for c in AuditEntry.__table__.columns)


def _assert_one(db, rid, *, action, actor, changed):
    entries = _entries(db, rid)
    assert len(entries) == 1, [(e.action, e.result) for e in entries]
    entry = entries[0]
    actor_user = db.session.scalar(select(User).where(User.username == actor))
    assert entry.action == action
    assert entry.actor_name == actor and entry.actor_user_id == actor_user.id
    assert entry.ip == "127.0.0.1" and entry.client_request_id == rid and len(entry.request_id) == 32 and entry.channel == "web"
    assert entry.result == "ok"
    assert entry.changed_fields == sorted(changed)
    return entry


def test_creating_a_user_writes_one_row_without_the_password(signed_in, demo, db):
    admin = signed_in("admin")
    password = "Clerk#Pass2026"
    response, rid = _post(admin, "/admin/users/new", {
        "username": "new.clerk", "display_name": "王小明", "title": "文书", "password": password,
        "role": "village_cadre", "unit_code": demo.unit("青石村").code}, form_page="/admin/users/new")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    created = demo.user("new.clerk")
    entry = _assert_one(db, rid, action="user.created", actor="admin",
                        changed=["display_name", "password_hash", "title", "username"])
    assert entry.object_type == "users" and entry.object_id == str(created.id)
    row = _row_text(entry)
    for secret in (password, created.password_hash, created.password_hash.split("$")[-1], "王小明"):
        assert secret not in row


def _unit_edit(demo):
    unit = demo.unit("青石村")
    return (f"/admin/org/{unit.id}/edit", {"code": unit.code, "name": "青石村（新）", "center_name": ""},
            f"/admin/org/{unit.id}/edit")


WRITES = [
    # (actor, build(demo) -> (path, data, form page), action, changed names)
    ("admin", _unit_edit, "org.unit_updated", ["name"]),
    ("admin", lambda d: (f"/admin/users/{d.user('qs.staff').id}/edit", {"display_name": "李四光明", "title": ""},
                         f"/admin/users/{d.user('qs.staff').id}"), "user.updated", ["display_name", "title"]),
    ("admin", lambda d: (f"/admin/users/{d.user('qs.staff').id}/password", {"password": "Reset#Word2026"},
                         f"/admin/users/{d.user('qs.staff').id}"), "user.password_reset",
     ["must_change_password", "password_hash"]),
    ("admin", lambda d: (f"/admin/users/{d.user('qs.staff').id}/disable", {},
                         f"/admin/users/{d.user('qs.staff').id}"), "user.disabled", ["is_active"]),
    ("admin", lambda d: (f"/admin/users/{d.user('qs.staff').id}/memberships",
                         {"role": "village_cadre", "unit_code": d.unit("青石村").code},
                         f"/admin/users/{d.user('qs.staff').id}"), "membership.proposed",
     ["department_id", "role", "status", "unit_id"]),
    ("secadmin", lambda d: ("/admin/security", POLICY_FORM, "/admin/security"), "security.policy_updated",
     list(FIELDS)),
    ("secadmin", lambda d: ("/admin/security/unlock", {"username": "qs.staff"}, "/admin/security"),
     "login.unlocked", []),
    ("qs.staff", lambda d: ("/account/password", {"current_password": DEMO_PASSWORD,
                                                  "new_password": "Own#Word2026",
                                                  "confirm_password": "Own#Word2026"}, "/account/password"),
     "user.password_changed", ["password_hash"]),
    ("qs.staff", lambda d: ("/logout", {}, "/account/password"), "logout", []),
]


@pytest.mark.parametrize(("actor", "build", "action", "changed"), WRITES,
                         ids=[w[2] for w in WRITES])
def test_each_ui_write_writes_exactly_one_audit_row(signed_in, demo, db, actor, build, action, changed,
                                                     policy_reset):
    c = signed_in(actor)
    path, data, form_page = build(demo)
    response, rid = _post(c, path, data, form_page=form_page)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    entry = _assert_one(db, rid, action=action, actor=actor, changed=changed)
    row = _row_text(entry)
    for value in data.values():
        if isinstance(value, str) and len(value) > 3 and value not in FIELDS:
            assert value not in row or value == "qs.staff", value  # the unlocked name is the object id


def test_login_writes_one_row(client, demo, db):
    rid = f"login-{uuid.uuid4().hex}"
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "username": "qs.staff", "password": DEMO_PASSWORD},
                           headers={"X-Request-Id": rid})
    assert response.status_code == 302
    entry = _assert_one(db, rid, action="login", actor="qs.staff", changed=[])
    assert DEMO_PASSWORD not in _row_text(entry)


def test_rejected_form_writes_no_row(signed_in, demo, db):
    admin = signed_in("admin")
    response, rid = _post(admin, "/admin/users/new", {
        "username": "x", "display_name": "", "password": "short", "role": "village_cadre"},
        form_page="/admin/users/new")
    assert response.status_code == 422
    assert _entries(db, rid) == []


# --- security events survive a rolled-back request (committed data, fresh database) ---------------------------

@contextlib.contextmanager
def _committed_app(url, **extra):
    application = make_app(url, **extra)
    engine = create_engine(url)
    try:
        yield application, engine
    finally:
        engine.dispose()
        from core.db import db as _db

        with application.app_context():
            _db.engine.dispose()


def _committed(engine, rid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT action, result, actor_name, object_id FROM audit_entries "
                                 "WHERE client_request_id = :rid ORDER BY id"), {"rid": rid}).all()


def test_failed_login_and_lockout_are_committed_on_their_own(committed_url):
    with _committed_app(committed_url) as (application, engine):
        c = application.test_client()
        rids = []
        for _ in range(5):
            rid = uuid.uuid4().hex
            rids.append(rid)
            token = csrf_from(c.get("/login").get_data(as_text=True))
            response = c.post("/login", data={"csrf_token": token, "username": "qs.leader",
                                              "password": "Wrong#Pass1"}, headers={"X-Request-Id": rid})
            assert response.status_code == 401
        assert _committed(engine, rids[0]) == [("login.failed", "failed", "qs.leader", None)]
        assert [r[0] for r in _committed(engine, rids[-1])] == ["login.failed", "login.lockout"]
        assert DEMO_PASSWORD not in str(_committed(engine, rids[-1]))


def test_permission_denied_on_a_get_is_committed(committed_url):
    with _committed_app(committed_url) as (application, engine):
        c = application.test_client()
        assert login(c, "admin").status_code == 302
        rid = uuid.uuid4().hex
        assert c.get("/admin/audit", headers={"X-Request-Id": rid}).status_code == 403
        assert _committed(engine, rid) == [("permission.denied", "denied", "admin", "audit.index")]


def test_permission_denied_on_a_post_is_committed(committed_url):
    # A short busy timeout: the denial must not wait for a lock at all, and a regression fails fast.
    with _committed_app(committed_url, SQLITE_BUSY_TIMEOUT_MS=3000) as (application, engine):
        c = application.test_client()
        assert login(c, "auditor").status_code == 302
        token = csrf_token(c)
        rid = uuid.uuid4().hex
        response = c.post("/admin/security", data={"csrf_token": token, **POLICY_FORM},
                          headers={"X-Request-Id": rid})
        assert response.status_code == 403
        assert _committed(engine, rid) == [("permission.denied", "denied", "auditor", "users.security_policy")]
        invalidate_cache()


def test_denial_inside_a_rolled_back_request_is_still_committed(committed_url):
    from core.audit.operations import record
    from core.auth.decorators import permission
    from core.db import db as _db
    from core.errors import PermissionDenied
    from core.org.models import OrgUnit
    from core.web import current_actor

    with _committed_app(committed_url, SQLITE_BUSY_TIMEOUT_MS=3000) as (application, engine):
        # A route that writes tier data and its audit row, then meets a permission check that fails: the
        # error handler rolls the request back, yet the denial must be on disk.
        @application.route("/_test/write-then-deny", methods=["POST"])
        @permission(SELF)
        def write_then_deny():
            unit = _db.session.scalar(select(OrgUnit).where(OrgUnit.name == "青石村"))
            unit.name = "不应保存"
            record(current_actor(), "org.unit_updated", unit, changed=["name"])
            _db.session.flush()
            raise PermissionDenied(action="test.write_then_deny")

        c = application.test_client()
        assert login(c, "qs.staff").status_code == 302
        rid = uuid.uuid4().hex
        response = c.post("/_test/write-then-deny", data={"csrf_token": csrf_token(c)},
                          headers={"X-Request-Id": rid})
        assert response.status_code == 403
        assert _committed(engine, rid) == [("permission.denied", "denied", "qs.staff", "test.write_then_deny")]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM org_units WHERE name = '不应保存'")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM org_units WHERE name = '青石村'")).scalar() == 1


# --- the test guard ----------------------------------------------------------------------------------------------

def test_guard_refuses_tier_commit_without_audit_row(db, demo):
    from core.audit import guard

    unit = demo.unit("青石村")
    unit.name = "悄悄改名"
    try:
        with pytest.raises(RuntimeError, match="without an AuditEntry"):
            db.session.commit()
        assert any("OrgUnit" in v for v in guard.violations)
    finally:
        guard.violations.clear()  # the violation was the point of this test
        db.session.rollback()
    db.session.expire_all()
    assert demo.unit("青石村").name == "青石村"


def test_guard_accepts_tier_commit_with_audit_row(db, demo):
    from core.audit import guard
    from core.audit.operations import record

    unit = demo.unit("青石村")
    unit.name = "公开改名"
    record(demo.actor("admin"), "org.unit_updated", unit, changed=["name"])
    db.session.commit()
    assert guard.violations == []
    user = demo.user("qs.staff")
    user.display_name = "改个名"
    with pytest.raises(RuntimeError, match="User"):
        db.session.commit()
    guard.violations.clear()
    db.session.rollback()
