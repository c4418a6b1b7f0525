"""``log(subject, action, actor=…)``: one step on a subject's work record — its event row and the audit row,
in the caller's transaction (never a commit). The kernel knows no subject: a feature registers its subject
class with the event row it keeps (``register_subject``) at import of its models, so every write path — form,
API, WeChat command, job — records a step the same way instead of building event rows by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.actor import Actor
from core.audit.operations import record
from core.db import db, utcnow


@dataclass(frozen=True)
class SubjectType:
    #: builds the subject's event row: ``event(subject, action=…, actor_user_id=…, at=…, note=…,
    #: changed_fields=…, **fields)``
    event: Callable[..., object]
    #: the unit an audit row about the subject is filed under (its handling unit for a case)
    unit: Callable[[object], int | None]
    #: audit actions default to "<prefix>.<action>" ("case.note")
    audit_prefix: str


_types: dict[type, SubjectType] = {}


def register_subject(cls: type, *, event: Callable[..., object], unit: Callable[[object], int | None],
                     audit_prefix: str) -> None:
    """Declare ``cls`` a subject with a work record. Registering again replaces (models import once)."""
    _types[cls] = SubjectType(event, unit, audit_prefix)


def subject_type(subject) -> SubjectType:
    for cls in type(subject).__mro__:
        if cls in _types:
            return _types[cls]
    raise TypeError(f"{type(subject).__name__} is not a registered work subject")


#: ``audit=NO_AUDIT``: the step's audit row is written by the caller (one row for a batch, or about another
#: object in a savepoint of its own)
NO_AUDIT = False


def log(subject, action: str, *, actor: Actor | None, note: str | None = None, changed=(),
        at: datetime | None = None, audit: str | bool | None = None, audit_object=None,
        audit_changed=None, **fields):
    """Add the event ``action`` to ``subject``'s record and, unless ``audit`` is ``NO_AUDIT``, its audit row:
    action ``audit`` (default "<prefix>.<action>") about ``audit_object`` (default the subject) with the
    changed field names ``audit_changed`` (default ``changed``). Names of fields only, never values. The event
    is flushed, so its id is known (notification keys, attachments of the step)."""
    spec = subject_type(subject)
    event = spec.event(subject, action=action, actor_user_id=actor.user_id if actor is not None else None,
                       at=at or utcnow(), note=note, changed_fields=list(changed), **fields)
    db.session.add(event)
    db.session.flush()
    if audit is not NO_AUDIT:
        record(actor, audit or f"{spec.audit_prefix}.{action}",
               subject if audit_object is None else audit_object, unit_id=spec.unit(subject),
               changed=list(changed if audit_changed is None else audit_changed))
    return event
