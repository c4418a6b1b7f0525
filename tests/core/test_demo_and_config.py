"""The demo district (what `flask demo load` builds and where it refuses to run) and start-up configuration."""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select

from core.accounts.models import DEPARTMENT_ROLES, Membership, Role, User
from core.config import ConfigError, is_demo_allowed, load_config
from core.org.models import Department, DepartmentKind, OrgUnit, UnitKind
from tests import dbutil
from tests.conftest import DEMO_PASSWORD, make_app, migrate_and_seed

PRODUCTION_KEYS = {
    # random, as production keys must be (core.config.check_production_keys); never used outside the tests
    "SECRET_KEY": "production-secret-for-tests-only-0123456789",
    "CRYPTO_KEYS": "v1:5f0c9e27a4d3b86e1c72f9a0d84b3e61",
    "BLIND_INDEX_KEY": "c31e7a9f04b2d86e5a17c9f3e0b4d28a6f1e93c7b5a04d2e8c61f9b3a7d0e452",
    "BACKUP_KEY": "9d4e2b7a1c83f60e5b19d7a24c8e3f06",
    "AUDIT_ARCHIVE_KEY": "4e9b17c2d05a83f6e1b7c94d2a08f53e",
}


@pytest.fixture()
def clean_env(monkeypatch):
    """No MEDIATION_* settings or DATABASE_URL from the machine running the tests leak into load_config."""
    for key in list(os.environ):
        if key == "DATABASE_URL" or (key.startswith("MEDIATION_") and not key.startswith("MEDIATION_TEST_")):
            monkeypatch.delenv(key)
    return monkeypatch


def unit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(OrgUnit))


# --- where the demo may be loaded -----------------------------------------------------------------------

@pytest.mark.parametrize(("env", "allowed"), [("development", True), ("test", True), ("production", False),
                                              (None, False), ("", False)])
def test_is_demo_allowed(env, allowed):
    assert is_demo_allowed({"MEDIATION_ENV": env}) is allowed


@pytest.mark.parametrize("args", [["demo", "load"], ["demo", "load", "--if-empty"]])
def test_demo_load_refuses_in_production(args, clean_env, tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/prod.db", MEDIATION_ENV="production", **PRODUCTION_KEYS)
    assert app.config["MEDIATION_ENV"] == "production"
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert "示范数据只能在 development 或 test 环境加载（当前 MEDIATION_ENV=production）" in result.output
    from core.db import db

    with app.app_context():
        assert unit_count(db.session) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.engine.dispose()


def test_demo_load_refuses_a_non_empty_database(app, db):
    before = unit_count(db.session)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["demo", "load"])
    assert refused.exit_code != 0
    assert "数据库中已有组织机构，示范数据只能加载到空库" in refused.output
    skipped = runner.invoke(args=["demo", "load", "--if-empty"])
    assert skipped.exit_code == 0, skipped.output
    assert "数据库已有数据，跳过示范数据加载。" in skipped.output
    assert unit_count(db.session) == before


def test_demo_load_on_an_empty_database(tmp_path):
    url = dbutil.fresh_database_url(tmp_path)
    application = make_app(url)
    try:
        migrate_and_seed(application, demo=False)
        runner = application.test_cli_runner()
        first = runner.invoke(args=["demo", "load", "--if-empty"])  # empty: --if-empty loads
        assert first.exit_code == 0, first.output
        assert f"示范区已加载。所有示范账户的密码：{DEMO_PASSWORD}" in first.output
        assert "qs01.head" in first.output and "另有 180 名网格员" in first.output
        assert "qs01.g1 " not in first.output  # grid workers are summarised, not listed one by one
        from core.db import db

        with application.app_context():
            loaded = unit_count(db.session)
        assert loaded == 1 + 6 + 60 + 180

        assert "跳过" in runner.invoke(args=["demo", "load", "--if-empty"]).output
        again = runner.invoke(args=["demo", "load"])
        assert again.exit_code != 0 and "只能加载到空库" in again.output
        with application.app_context():
            assert unit_count(db.session) == loaded
            assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "admin")) == 1
    finally:
        from core.db import db

        with application.app_context():
            db.engine.dispose()
        dbutil.drop_database(url)


# --- what the demo holds --------------------------------------------------------------------------------

def test_demo_org_tree(demo, db):
    [district] = db.session.scalars(select(OrgUnit).where(OrgUnit.kind == UnitKind.district,
                                                          OrgUnit.code == "990101000000"))
    assert (district.name, district.case_prefix, district.parent_id) == ("示范区", "SF", None)
    assert district.center_name == "示范区社会矛盾纠纷调处化解中心"
    townships = [u for u in district.children]
    assert [t.kind for t in townships] == [UnitKind.township] * 6
    assert {t.name for t in townships} == {"城关街道", "东湖街道", "青石镇", "柳河镇", "桃源乡", "白云乡"}
    villages = [v for t in townships for v in t.children]
    assert len(villages) == 60
    assert all(len(t.children) == 10 for t in townships)
    assert Counter(v.kind for v in villages) == {UnitKind.village: 40, UnitKind.community: 20}
    for t in townships:  # 街道 hold communities, 镇/乡 hold villages
        assert {v.kind for v in t.children} == {UnitKind.community if t.name.endswith("街道") else UnitKind.village}
    for v in villages:
        assert v.children, f"{v.name} has no grid"
        assert all(g.kind == UnitKind.grid and g.parent_id == v.id and not g.children for g in v.children)
        assert v.code.startswith(v.parent.code[:9]) and len(v.code) == 12
    grids = [g for v in villages for g in v.children]
    assert len(grids) == 180
    everything = [district, *townships, *villages, *grids]
    for unit in everything:
        assert unit.is_active
        expected = f"{unit.parent.path}{unit.id}/" if unit.parent else f"/{unit.id}/"
        assert unit.path == expected and unit.depth == unit.path.count("/") - 2
    assert len({u.code for u in everything}) == len(everything)


def test_demo_departments(demo, db):
    district = demo.unit("示范区")
    at_district = Counter(d.kind for d in district.departments)
    assert at_district == {DepartmentKind.resident: 8, DepartmentKind.rotating: 7, DepartmentKind.on_call: 20}
    assert demo.department("区信访局").kind == DepartmentKind.resident
    assert demo.department("区住房和城乡建设委员会").kind == DepartmentKind.rotating
    assert demo.department("区民政局").kind == DepartmentKind.on_call
    for township in district.children:
        assert township.departments, f"{township.name} has no departments"
        assert township.center_name == f"{township.name}矛盾纠纷调处化解中心"
    holders = {d.unit.tier for d in db.session.scalars(select(Department))}
    assert holders <= {"district", "township"}  # no department below a township center


TOWNSHIP_ROLES = (Role.township_leader, Role.township_staff, Role.center_staff)
VILLAGE_ROLES = (Role.village_head, Role.village_cadre, Role.grid_worker)
DISTRICT_ROLES = (Role.system_admin, Role.security_admin, Role.auditor, Role.district_leader, Role.center_staff)


def test_demo_users_for_every_role(demo, db):
    memberships = list(db.session.scalars(select(Membership)))
    roles = {m.role for m in memberships}
    assert roles == set(Role), set(Role) - roles
    for m in memberships:
        assert m.is_effective and m.user.is_active
        if m.role in DEPARTMENT_ROLES:
            assert m.department is not None and m.unit is None
        elif m.role == Role.grid_worker:
            assert m.unit.tier == "grid"
        elif m.role in (Role.village_head, Role.village_cadre):
            assert m.unit.tier == "village"
        elif m.role in (Role.township_leader, Role.township_staff):
            assert m.unit.tier == "township"
        elif m.role == Role.center_staff:
            assert m.unit.tier in ("district", "township")
        else:
            assert m.unit.tier == "district", m

    # district-bound roles: at the district
    for role in DISTRICT_ROLES:
        assert any(m.role == role and m.unit is not None and m.unit.tier == "district" for m in memberships), role
    # department roles: at two departments or more
    for role in DEPARTMENT_ROLES:
        assert len({m.department_id for m in memberships if m.role == role}) >= 2, role
    # township-bound roles: in at least two townships
    for role in TOWNSHIP_ROLES:
        townships = {m.unit_id for m in memberships if m.role == role and m.unit.tier == "township"}
        assert len(townships) >= 2, role
    # village-bound roles: in at least two townships, and in at least two villages of each of them
    for role in VILLAGE_ROLES:
        by_township = defaultdict(set)
        for m in memberships:
            if m.role == role:
                village = m.unit if m.unit.tier == "village" else m.unit.parent
                by_township[village.parent_id].add(village.id)
        rich = [t for t, vs in by_township.items() if len(vs) >= 2]
        assert len(rich) >= 2, (role, dict(by_township))
    # a grid worker in every grid, exactly one
    grid_workers = Counter(m.unit_id for m in memberships if m.role == Role.grid_worker)
    grids = db.session.scalars(select(OrgUnit.id).where(OrgUnit.kind == UnitKind.grid)).all()
    assert set(grid_workers) == set(grids) and set(grid_workers.values()) == {1}
    # the village desks used throughout the tests
    for username, role, place in (("qs01.head", Role.village_head, "青石村"), ("qs02.cadre", Role.village_cadre, "上坝村"),
                                  ("cg02.head", Role.village_head, "府前社区"), ("qs.center", Role.center_staff, "青石镇"),
                                  ("xinfang.liaison", Role.department_liaison, None)):
        [m] = demo.user(username).memberships
        assert m.role == role
        if place:
            assert m.unit.name == place


def test_demo_users_sign_in_with_the_demo_password(demo, db):
    from core.accounts.passwords import verify_password

    users = list(db.session.scalars(select(User)))
    assert len({u.username for u in users}) == len(users)
    for username in ("admin", "secadmin", "auditor", "leader.wang", "xinfang.liaison", "qs.leader", "qs01.g1"):
        user = demo.user(username)
        assert verify_password(user.password_hash, DEMO_PASSWORD)
        assert not user.must_change_password
    assert not verify_password(demo.user("admin").password_hash, "Shifan#2025")
    from core.audit.models import AuditEntry

    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "demo.loaded")) is not None


# --- configuration --------------------------------------------------------------------------------------

def test_env_overrides_are_typed(clean_env):
    clean_env.setenv("MEDIATION_SESSION_TOUCH_SECONDS", "5")
    clean_env.setenv("MEDIATION_SESSION_COOKIE_SECURE", "yes")
    clean_env.setenv("MEDIATION_AUDIT_GUARD", "0")
    clean_env.setenv("MEDIATION_CENTER_NAME", "综治中心")
    cfg = load_config({"MEDIATION_ENV": "test"})
    assert cfg["SESSION_TOUCH_SECONDS"] == 5 and type(cfg["SESSION_TOUCH_SECONDS"]) is int
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["AUDIT_GUARD"] is False
    assert cfg["CENTER_NAME"] == "综治中心"
    assert cfg["ARGON2_TIME_COST"] == 1  # untouched values keep the test defaults
    # explicit overrides (create_app's argument) win over the environment
    assert load_config({"MEDIATION_ENV": "test", "SESSION_TOUCH_SECONDS": 7})["SESSION_TOUCH_SECONDS"] == 7


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("On", True), (" YES ", True),
                                               ("0", False), ("false", False), ("no", False), ("", False)])
def test_boolean_env_values(raw, expected, clean_env):
    clean_env.setenv("MEDIATION_SESSION_COOKIE_SECURE", raw)
    assert load_config({"MEDIATION_ENV": "test"})["SESSION_COOKIE_SECURE"] is expected


def test_malformed_integer_env_is_a_config_error_naming_the_variable(clean_env):
    clean_env.setenv("MEDIATION_SESSION_TOUCH_SECONDS", "five")
    with pytest.raises(ConfigError, match="MEDIATION_SESSION_TOUCH_SECONDS"):
        load_config({"MEDIATION_ENV": "test"})


def test_environment_is_chosen_by_mediation_env(clean_env):
    clean_env.setenv("MEDIATION_ENV", "development")
    cfg = load_config()
    assert cfg["MEDIATION_ENV"] == "development" and cfg["SESSION_COOKIE_SECURE"] is False
    clean_env.setenv("MEDIATION_ENV", "staging")
    with pytest.raises(ConfigError, match="MEDIATION_ENV"):
        load_config()
    clean_env.delenv("MEDIATION_ENV")
    with pytest.raises(ConfigError, match="MEDIATION_SECRET_KEY"):  # unset means production
        load_config()


@pytest.mark.parametrize("missing", sorted(PRODUCTION_KEYS))
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_production_requires_its_secrets(missing, how, clean_env):
    overrides = {"MEDIATION_ENV": "production", **PRODUCTION_KEYS}
    if how == "absent":
        del overrides[missing]
    else:
        overrides[missing] = ""
    with pytest.raises(ConfigError, match=f"MEDIATION_{missing} must be set in production"):
        load_config(overrides)
    with pytest.raises(ConfigError):
        make_app("sqlite://", **overrides)


def test_production_from_the_environment(clean_env):
    clean_env.setenv("MEDIATION_ENV", "production")
    for key, value in PRODUCTION_KEYS.items():
        clean_env.setenv(f"MEDIATION_{key}", value)
    clean_env.setenv("DATABASE_URL", "postgresql://mdt:pw@db.internal:5432/mediation")
    cfg = load_config()
    assert cfg["MEDIATION_ENV"] == "production"
    assert cfg["SECRET_KEY"] == PRODUCTION_KEYS["SECRET_KEY"]
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["AUDIT_GUARD"] is False
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://mdt:pw@db.internal:5432/mediation"
    assert not is_demo_allowed(cfg)


@pytest.mark.parametrize("url", ["postgres://u:p@h:5432/db", "postgres://localhost/mediation"])
def test_postgres_scheme_is_refused(url, clean_env):
    with pytest.raises(ConfigError, match="postgresql\\+psycopg"):
        load_config({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": url})
    clean_env.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError):
        load_config({"MEDIATION_ENV": "test"})


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
    ("postgresql://localhost/mediation?sslmode=require", "postgresql+psycopg://localhost/mediation?sslmode=require"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///instance/x.db", "sqlite:///instance/x.db"),
    ("sqlite://", "sqlite://"),
])
def test_database_url_normalised(url, expected, clean_env):
    assert load_config({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": url})["SQLALCHEMY_DATABASE_URI"] == expected
    clean_env.setenv("DATABASE_URL", url)
    assert load_config({"MEDIATION_ENV": "development"})["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "oracle://h/db", "mediation.db"])
def test_unsupported_databases_are_refused(url, clean_env):
    with pytest.raises(ConfigError):
        load_config({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": url})


def test_database_url_precedence(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://from-env/db")
    clean_env.setenv("MEDIATION_SQLALCHEMY_DATABASE_URI", "sqlite:///ignored.db")
    assert load_config({"MEDIATION_ENV": "test"})["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://from-env/db"
    assert load_config({"MEDIATION_ENV": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})[
        "SQLALCHEMY_DATABASE_URI"] == "sqlite://"


def test_app_gets_the_rewritten_url(clean_env):
    app = make_app("postgresql://mdt@127.0.0.1:1/never_connected")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://mdt@127.0.0.1:1/never_connected"
    from core.db import db

    with app.app_context():
        assert db.engine.url.drivername == "postgresql+psycopg"
        db.engine.dispose()
