"""Shared pieces of the 三权分立 attacker tests (tests/core/test_separation_of_duties.py, test_dual_control.py,
test_token_attacks.py, tests/notify/test_wechat_binding_proof.py): the attacker's request must fail and change
nothing — no row of any table but the sessions' bookkeeping and the login counter, and no audit row other than
the refusal. Not a test module: nothing is collected."""

from __future__ import annotations

from sqlalchemy import func, select

#: Bookkeeping a refused request may touch: its own session row, the failed-login counter and the rate-limit
#: counters (a refused sign-in
#: counts, by design), and the audit log (checked separately: only refusals may be added).
BOOKKEEPING = {"web_sessions", "login_throttles", "rate_counters", "audit_entries"}
REFUSALS = {"denied", "failed", "locked", "unproven", "code_refused", "state_refused", "unbound_identity",
            "failed_password", "failed_otp", "password_changed", "user_disabled", "disabled", "expired", "revoked",
            "no_scope", "no_membership", "malformed", "unknown"}


def _snapshot(db) -> dict:
    from core.db import Base

    out = {}
    for table in Base.metadata.sorted_tables:
        if table.name in BOOKKEEPING:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        out[table.name] = [tuple(row) for row in db.session.execute(select(table).order_by(*order))]
    return out


class Watch:
    """``watch = Watch(db)`` before the attack; ``watch.assert_unchanged()`` after it."""

    def __init__(self, db):
        from core.audit.models import AuditEntry

        self.db = db
        db.session.expire_all()
        self.before = _snapshot(db)
        self.last_audit = db.session.scalar(select(func.max(AuditEntry.id))) or 0

    def new_audit(self):
        from core.audit.models import AuditEntry

        self.db.session.expire_all()
        return list(self.db.session.scalars(select(AuditEntry).where(AuditEntry.id > self.last_audit)
                                            .order_by(AuditEntry.id)))

    def assert_unchanged(self, *, refusal: str | None = "denied") -> list:
        """Nothing changed; every new audit row is a refusal (and, unless ``refusal`` is None, one of them has
        that result). Returns the new audit rows."""
        self.db.session.expire_all()
        after = _snapshot(self.db)
        changed = []
        for name, rows in self.before.items():
            if rows != after[name]:
                added = [r for r in after[name] if r not in rows]
                removed = [r for r in rows if r not in after[name]]
                changed.append(f"{name}: +{added[:2]} -{removed[:2]}")
        assert not changed, "the refused request changed the database: " + "; ".join(changed)
        entries = self.new_audit()
        wrote = [(e.action, e.result) for e in entries if e.result not in REFUSALS]
        assert not wrote, f"audit rows other than the refusal: {wrote}"
        if refusal is not None:
            assert any(e.result == refusal for e in entries), [(e.action, e.result) for e in entries]
        return entries


def sessions_of(db, user_id: int) -> int:
    from core.accounts.models import WebSession

    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id))


def post_form(client, path: str, data: dict, *, page: str = "/account/password", **kw):
    """POST with the CSRF token of ``page`` (any page of the layout carries one)."""
    from tests.conftest import csrf_from

    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, **kw)


def notifications_to(db, username: str, event: str) -> list:
    from core.accounts.models import User
    from notify.models import Notification

    db.session.expire_all()
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user_id,
                                                              Notification.event == event)))
