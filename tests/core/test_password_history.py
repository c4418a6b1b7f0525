"""等保三级 passwords: a new password may not repeat one of the user's last five (the current one included; the
count is the security policy's), whichever way it is set — the user's own change, the system administrator's
reset, a dual-control reset request — and migration 0016passwords adds the history on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, inspect, select, text

from core.accounts.models import PasswordHistory
from core.accounts.operations import change_password, reset_password, update_policy
from core.accounts.passwords import verify_password
from core.errors import ValidationFailed
from tests.conftest import DEMO_PASSWORD
from tests.core.test_migrations import empty_app  # noqa: F401 -- fixture

PASSWORDS = [f"Kx9#mQ2!vL{c}" for c in "abcdef"]
REUSED = "新密码不能与最近 5 次使用过的密码相同"


@pytest.fixture(autouse=True)
def _fresh_policy():
    """The policy is cached per process; a test that changes it must not leave its value to the next."""
    from core.accounts.policy import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()


def _change(demo, username, current, new):
    change_password(demo.user(username), current=current, new=new, actor=demo.actor(username))


def _history(db, user) -> int:
    return db.session.scalar(select(func.count()).select_from(PasswordHistory)
                             .where(PasswordHistory.user_id == user.id))


def test_the_last_five_passwords_cannot_be_reused(db, demo):
    current = DEMO_PASSWORD
    for new in PASSWORDS[:5]:
        _change(demo, "qs.staff", current, new)
        current = new
    user = demo.user("qs.staff")
    assert _history(db, user) == 4  # the current password and four earlier ones: only those are kept
    for old in PASSWORDS[:4]:
        with pytest.raises(ValidationFailed) as refused:
            _change(demo, "qs.staff", current, old)
        assert refused.value.errors == {"new_password": [REUSED]}
    assert verify_password(demo.user("qs.staff").password_hash, PASSWORDS[4])
    _change(demo, "qs.staff", current, PASSWORDS[5])
    # PASSWORDS[0] is now the sixth password back, so it may come again
    _change(demo, "qs.staff", PASSWORDS[5], PASSWORDS[0])
    assert _history(db, user) == 4
    stored = db.session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id))
    assert all(h.startswith("$argon2id$") for h in stored)  # hashes only, never the password


def test_the_form_names_the_reason(client, login_as, demo, db):
    _change(demo, "qs.staff", DEMO_PASSWORD, PASSWORDS[0])
    _change(demo, "qs.staff", PASSWORDS[0], PASSWORDS[1])
    db.session.commit()
    login_as("qs.staff", PASSWORDS[1])
    from tests.conftest import csrf_token

    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client), "current_password": PASSWORDS[1], "new_password": PASSWORDS[0],
        "confirm_password": PASSWORDS[0]})
    assert response.status_code == 422 and REUSED in response.get_data(as_text=True)


def test_the_admin_reset_refuses_a_recent_password_and_keeps_the_history(db, demo):
    _change(demo, "qs.staff", DEMO_PASSWORD, PASSWORDS[0])
    user = demo.user("qs.staff")
    with pytest.raises(ValidationFailed) as refused:
        reset_password(user, new_password=PASSWORDS[0], actor=demo.actor("admin"))
    assert refused.value.errors == {"password": [REUSED]}
    reset_password(user, new_password=PASSWORDS[1], actor=demo.actor("admin"))
    assert _history(db, user) == 2 and user.must_change_password
    # the user's own next choice may not go back to the password the administrator set
    with pytest.raises(ValidationFailed) as refused:
        _change(demo, "qs.staff", PASSWORDS[1], PASSWORDS[0])
    assert refused.value.errors == {"new_password": [REUSED]}


def test_a_dual_control_reset_request_refuses_a_recent_password(db, demo):
    from core.accounts.dual_control import approve, request_act

    _change(demo, "auditor", DEMO_PASSWORD, PASSWORDS[0])
    auditor = demo.user("auditor")
    with pytest.raises(ValidationFailed) as refused:
        request_act(kind="reset_password", target=auditor, actor=demo.actor("admin"), reason="遗忘密码",
                    new_password=PASSWORDS[0])
    assert refused.value.errors["password"] == [REUSED]
    req = request_act(kind="reset_password", target=auditor, actor=demo.actor("admin"), reason="遗忘密码",
                      new_password=PASSWORDS[2])
    approve(req, actor=demo.actor("secadmin"))
    assert verify_password(auditor.password_hash, PASSWORDS[2])
    assert _history(db, auditor) == 2  # the demo password and PASSWORDS[0]


def test_the_count_is_the_security_policys(db, demo):
    update_policy(actor=demo.actor("secadmin"), password_history=2)
    current = DEMO_PASSWORD
    for new in PASSWORDS[:3]:
        _change(demo, "qs.staff", current, new)
        current = new
    assert _history(db, demo.user("qs.staff")) == 1
    with pytest.raises(ValidationFailed) as refused:
        _change(demo, "qs.staff", current, PASSWORDS[1])
    assert refused.value.errors == {"new_password": ["新密码不能与最近 2 次使用过的密码相同"]}
    _change(demo, "qs.staff", current, PASSWORDS[0])  # three back: allowed with a count of 2


def test_the_policy_form_validates_the_count(db, demo):
    from core.accounts.schemas import PolicyArgs

    errors = PolicyArgs().validate({"min_length": 8, "min_classes": 3, "rotation_days": 90, "lockout_threshold": 5,
                                    "lockout_minutes": 15, "idle_minutes": 30, "absolute_hours": 12,
                                    "password_history": 0})
    assert "password_history" in errors


NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_migration_0016_adds_the_history_and_the_policy_count_and_downgrades(empty_app):  # noqa: F811
    from flask_migrate import downgrade, upgrade

    from core.db import db

    with empty_app.app_context():
        upgrade(revision="0015terms")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO security_policies (id, min_length, min_classes, rotation_days, "
                              "lockout_threshold, lockout_minutes, idle_minutes, absolute_hours, updated_at) "
                              "VALUES (1, 10, 3, 90, 5, 15, 30, 12, :now)"), {"now": NOW})
            conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, password_changed_at, "
                              "must_change_password, is_active, created_at, updated_at) VALUES (1, 'u1', '用户', "
                              "'$argon2id$x', :now, :f, :t, :now, :now)"), {"now": NOW, "f": False, "t": True})
        upgrade(revision="0016passwords")
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT min_length, password_history FROM security_policies")).one() == (10, 5)
            conn.execute(text("INSERT INTO password_history (user_id, password_hash, created_at) "
                              "VALUES (1, '$argon2id$old', :now)"), {"now": NOW})
            assert conn.execute(text("SELECT count(*) FROM password_history")).scalar() == 1
        downgrade(revision="0015terms")
        with db.engine.connect() as conn:
            assert "password_history" not in inspect(conn).get_table_names()
            assert "password_history" not in {c["name"] for c in inspect(conn).get_columns("security_policies")}
            assert conn.execute(text("SELECT min_length FROM security_policies")).scalar() == 10
        upgrade()
