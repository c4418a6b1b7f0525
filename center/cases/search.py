"""The filtered case list shared by every desk, its export and its search box.

Filters arrive as GET arguments (a form that works without JavaScript) and are validated by ``FilterArgs``.
Every statement starts from ``cases_query(actor)``, so a filter can only narrow what the actor already sees.

Chinese search (DESIGN.md §4): a case number (exact or prefix), a summary substring or a party's name, by
LIKE with the wildcards of the user's text escaped (``autoescape``: "100%" or "_" match themselves, never
everything). No full-text index: bench/search.py measures the LIKE on 20,000 cases. ID numbers and phones
are deliberately not searchable here: GET arguments end up in access logs, and personal data must not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from marshmallow import validates_schema
from sqlalchemy import case as sql_case
from sqlalchemy import func, or_, select

from center.cases.desk import DONE, QUEUE_KEYS, overdue_clause, queue_clause, unit_scope
from center.cases.models import Case, CaseChannel, CaseKind, CaseStatus, Party, RiskColour
from center.cases.presenters import today_shanghai
from center.cases.queries import cases_query
from core.actor import Actor
from core.auth.scoping import unit_filter
from core.db import db
from core.errors import ValidationFailed
from core.org.models import OrgUnit, UnitKind
from core.schemas import BaseSchema, ValidationError, fields, length, number_range, one_of
from core.timefmt import SHANGHAI

PAGE_SIZE = 50
Q_MAX = 50


class FilterArgs(BaseSchema):
    q = fields.String(validate=length(max=Q_MAX))
    status = fields.String(validate=one_of([s.value for s in CaseStatus]))
    kind = fields.String(validate=one_of([k.value for k in CaseKind]))
    category = fields.String(validate=length(max=32))
    risk = fields.String(validate=one_of([r.value for r in RiskColour]))
    channel = fields.String(validate=one_of([c.value for c in CaseChannel]))
    unit = fields.Integer(validate=number_range(1, 2**31 - 1))
    received_from = fields.Date()
    received_to = fields.Date()
    overdue = fields.String(validate=one_of(["1"]))
    repeat = fields.String(validate=one_of(["1"]))
    queue = fields.String(validate=one_of(QUEUE_KEYS))
    page = fields.Integer(validate=number_range(1, 100000))

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and start > end:
            raise ValidationError("结束日期不能早于开始日期", "received_to")


#: the filters that narrow the list (page is not one of them)
FILTER_NAMES = ("q", "status", "kind", "category", "risk", "channel", "unit", "received_from", "received_to",
                "overdue", "repeat", "queue")


@dataclass
class Filters:
    values: dict = field(default_factory=dict)

    @property
    def page(self) -> int:
        return self.values.get("page", 1)

    def active(self) -> dict:
        return {k: v for k, v in self.values.items() if k in FILTER_NAMES and v not in (None, "")}

    def query_args(self, drop: tuple = (), **override) -> dict:
        """Arguments for url_for: the filters as typed, less ``drop``, plus overrides (e.g. page)."""
        out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.active().items() if k not in drop}
        out.update({k: v for k, v in override.items() if v is not None})
        return out


def unit_options(actor: Actor, limit: int = 500) -> list[OrgUnit]:
    """Units of the actor's jurisdiction for the unit filter (grids left out: a village covers them)."""
    stmt = (select(OrgUnit).where(unit_filter(actor, "case.read", OrgUnit.path), OrgUnit.kind != UnitKind.grid,
                                  OrgUnit.is_active.is_(True)).order_by(OrgUnit.path).limit(limit))
    return list(db.session.scalars(stmt))


def parse_filters(actor: Actor, args) -> Filters:
    """Validate GET arguments (a MultiDict or dict); ValidationFailed with Chinese messages when wrong."""
    raw = {k: args.get(k) for k in args}
    try:
        values = FilterArgs().load(raw)
    except ValidationError as exc:
        raise ValidationFailed({str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                                for k, v in exc.messages.items()}) from exc
    unit_id = values.get("unit")
    if unit_id is not None:
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id,
                                                       unit_filter(actor, "case.read", OrgUnit.path)))
        if unit is None:
            raise ValidationFailed({"unit": ["请从列表中选择"]})
        values["unit_obj"] = unit
    return Filters(values)


def search_clause(q: str):
    """Number prefix (exact included), summary substring or a party's name; wildcards escaped."""
    return or_(Case.number.startswith(q.upper(), autoescape=True),
               Case.summary.contains(q, autoescape=True),
               Case.id.in_(select(Party.case_id).where(Party.name.contains(q, autoescape=True))))


def filtered_query(actor: Actor, filters: Filters, today: date | None = None):
    """``select(Case)`` scoped to the actor and narrowed by the filters (not ordered, not paged)."""
    today = today or today_shanghai()
    v = filters.values
    stmt = cases_query(actor)
    for name, column in (("status", Case.status), ("kind", Case.kind), ("category", Case.category),
                         ("risk", Case.risk_colour), ("channel", Case.channel)):
        if v.get(name):
            stmt = stmt.where(column == v[name])
    if v.get("unit_obj") is not None:
        stmt = stmt.where(unit_scope(v["unit_obj"]))
    if v.get("received_from"):
        stmt = stmt.where(Case.received_at >= _start_of(v["received_from"]))
    if v.get("received_to"):
        stmt = stmt.where(Case.received_at < _start_of(v["received_to"] + timedelta(days=1)))
    if v.get("overdue"):
        stmt = stmt.where(Case.status.not_in([s.value for s in DONE]), overdue_clause(today))
    if v.get("repeat"):
        stmt = stmt.where(Case.repeat_of_case_id.is_not(None))
    if v.get("queue"):
        stmt = stmt.where(queue_clause(actor, v["queue"], today))
    if v.get("q"):
        stmt = stmt.where(search_clause(v["q"]))
    return stmt


def _start_of(day: date) -> datetime:
    """Midnight in Shanghai of ``day``, in UTC (received_at is stored in UTC)."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)


def ordered(stmt):
    open_first = sql_case((Case.status.in_([s.value for s in DONE]), 1), else_=0)
    return stmt.order_by(open_first, Case.received_at.desc(), Case.id.desc())


@dataclass(frozen=True)
class Page:
    cases: list
    total: int
    page: int
    pages: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def search_cases(actor: Actor, filters: Filters, *, page: int | None = None, per_page: int = PAGE_SIZE,
                 today: date | None = None) -> Page:
    stmt = filtered_query(actor, filters, today)
    total = db.session.scalar(stmt.with_only_columns(func.count(Case.id)).order_by(None))
    pages = max(1, -(-total // per_page))
    page = min(page or filters.page, pages)
    cases = list(db.session.scalars(ordered(stmt).limit(per_page).offset((page - 1) * per_page)))
    return Page(cases, total, page, pages)
