"""Audit guard (development and tests): a transaction that changes tier data must also write an
AuditEntry. Tier-data models mark themselves with ``__audited__ = True``. In guard mode a commit
without its audit row raises, and the violation is kept for the test fixture to report."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry

violations: list[str] = []
_enabled = False


def enable() -> None:
    global _enabled
    if _enabled:
        return
    _enabled = True
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _reset)
    event.listen(Session, "after_rollback", _reset)


def _after_flush(session, flush_context):
    info = session.info
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            info["audit_written"] = True
        elif getattr(type(obj), "__audited__", False) and (obj in session.new or obj in session.deleted
                                                          or session.is_modified(obj)):
            info.setdefault("audited_changes", set()).add(type(obj).__name__)


def _before_commit(session):
    session.flush()
    changes = session.info.get("audited_changes")
    if changes and not session.info.get("audit_written"):
        message = f"tier data committed without an AuditEntry: {sorted(changes)}"
        violations.append(message)
        _reset(session)
        raise RuntimeError(message)


def _reset(session):
    session.info.pop("audited_changes", None)
    session.info.pop("audit_written", None)
