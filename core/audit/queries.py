"""Reading the audit log (auditor only). Scoped like every tier query: an auditor of a district sees the
entries of units in that district, and entries with no unit (logins of unknown names, system jobs)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from core.actor import Actor
from core.audit.models import AuditEntry
from core.auth.scoping import unit_filter
from core.db import db
from core.org.models import OrgUnit
from core.timefmt import SHANGHAI

PAGE_SIZE = 50


def list_entries(actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                 result: str | None = None, day: date | None = None, before_id: int | None = None):
    stmt = (select(AuditEntry).outerjoin(OrgUnit, AuditEntry.unit_id == OrgUnit.id)
            .where(or_(AuditEntry.unit_id.is_(None), unit_filter(actor, "audit.read", OrgUnit.path))))
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if actor_name:
        stmt = stmt.where(AuditEntry.actor_name == actor_name)
    if result:
        stmt = stmt.where(AuditEntry.result == result)
    if day:
        start = datetime.combine(day, time(0), SHANGHAI)
        stmt = stmt.where(AuditEntry.at >= start, AuditEntry.at < start + timedelta(days=1))
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE)))
