"""Writing audit rows. ``record`` joins the caller's transaction; ``record_security_event`` commits on
its own connection so a rolled-back request cannot erase a failed login, a lockout or a denial."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.actor import Actor
from core.audit.models import AuditEntry
from core.db import db, own_transaction

logger = logging.getLogger(__name__)


def _entry(actor: Actor, action: str, obj=None, *, unit_id=None, result="ok", changed: Iterable[str] = (),
           object_type: str | None = None, object_id=None, actor_name: str | None = None) -> AuditEntry:
    if obj is not None:
        object_type = object_type or getattr(obj, "__tablename__", type(obj).__name__)
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    if unit_id is None:
        unit_id = actor.unit_id
    return AuditEntry(
        actor_user_id=actor.user_id,
        actor_name=(actor_name or str(actor))[:64],
        unit_id=unit_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        result=result,
        ip=actor.ip,
        request_id=actor.request_id,
        client_request_id=actor.client_request_id,
        channel=actor.channel,
        changed_fields=sorted(set(changed)),
    )


def record(actor: Actor, action: str, obj=None, **kw) -> AuditEntry:
    """Add an audit row to the caller's transaction (the caller commits)."""
    entry = _entry(actor, action, obj, **kw)
    db.session.add(entry)
    return entry


def record_security_event(actor: Actor, action: str, *, result: str, **kw) -> None:
    """Commit an audit row at once, independent of the request's transaction."""
    with own_transaction() as session:
        session.add(_entry(actor, action, result=result, **kw))
    logger.info("security event %s %s by %s", action, result, actor)


def changed_fields(obj) -> list[str]:
    """Names (never values) of the attributes changed on a persistent object since load."""
    from sqlalchemy import inspect

    state = inspect(obj)
    return [attr.key for attr in state.attrs if attr.history.has_changes()]
