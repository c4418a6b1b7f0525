"""The filtered case list shared by every desk, its export and its search box.

Filters that say nothing about a person (status, kind, queue, unit, dates …) travel as GET arguments and are
validated by ``FilterArgs``. The search text does not: it may be an ID number, a phone or a name, and URLs end
up in access logs, browser histories and Referer headers. The form posts it (``SearchArgs``, CSRF), it is kept
server-side encrypted under a random id (``CaseSearch``, ``save_search``) and the result pages carry ``s=<id>``
only; a GET with ``q=`` is refused. A search id is its user's own (anyone else's: not found) and expires.

Every statement starts from ``cases_query(actor)``, so a filter can only narrow what the actor already sees —
an ID number typed by a township clerk finds nothing outside the township.

What the search finds (``search_clause``):
- a full document number or a phone, exactly, through the parties' blind indexes (no plaintext compared);
- the short number: "000123" (or "123", or "2026-000123") is <prefix>-<any year>-000123;
- a case number by prefix (exact included);
- words: each whitespace-separated word must be in the summary, the number or a party's name (LIKE with the
  user's wildcards escaped — ``autoescape``: "100%" or "_" match themselves, never everything). No full-text
  index (DESIGN.md §4): bench/search.py measures the LIKE on 20,000 cases.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from marshmallow import validates_schema
from sqlalchemy import and_, delete, or_, select

from center.cases import reach
from center.cases.intake.identity import IdType, normalize_document, normalize_phone
from center.cases.intake.numbering import NUMBER_RE
from center.cases.listing import terms
from center.cases.listing.queues import QUEUE_KEYS, cases_by_ids, queue_row_clause
from center.cases.models import (
    SEARCH_TTL,
    Case,
    CaseChannel,
    CaseKind,
    CaseSearch,
    CaseStatus,
    Party,
    RiskColour,
)
from center.cases.presenters import today_shanghai
from core.actor import Actor
from core.auth.scoping import unit_filter
from core.crypto import provider
from core.db import db, utcnow
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.org.models import OrgUnit, UnitKind
from core.schemas import BaseSchema, ValidationError, fields, length, number_range, one_of
from core.timefmt import SHANGHAI

PAGE_SIZE = 50
Q_MAX = 50
#: The earliest year a case number may carry (short numbers are looked up in every year since).
FIRST_YEAR = 2000
#: Up to this many cases matching a search, the list starts from them (reach.Where.case_ids).
SEARCH_CANDIDATES = 2000
#: Words of one search (each must match): enough for a name and a few summary words, a bounded statement.
WORDS_MAX = 8
#: The one message for a search text in a URL (an old bookmark, a hand-typed link).
Q_IN_URL = "搜索内容请在搜索框中输入后点“搜索”（搜索内容不会出现在网址中）"
SEARCH_ID_RE = re.compile(r"[A-Za-z0-9_-]{32}")
#: "000123", "123", "2026-000123": the short forms of <prefix>-<year>-<6 digits>.
SHORT_NUMBER_RE = re.compile(r"(?:([0-9]{4})-)?([0-9]{1,6})")


class _ListFilters(BaseSchema):
    """The filters that say nothing about a person: they may stay in the URL."""

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

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and start > end:
            raise ValidationError("结束日期不能早于开始日期", "received_to")


class CursorField(fields.String):
    """A pager cursor (center.cases.reach.Cursor) in a URL; anything else is refused in Chinese."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return reach.Cursor.parse(raw[:48])
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class FilterArgs(_ListFilters):
    """GET arguments of the list and its export: the filters, the page and a saved search's id."""

    page = fields.Integer(validate=number_range(1, 100000))
    s = fields.String(validate=length(max=64))
    #: the pager's keyset: the neighbouring page's last (after) or first (before) row, reach.Cursor
    after = CursorField()
    before = CursorField()

    @validates_schema
    def _one_cursor(self, data, **kwargs):
        if data.get("after") is not None and data.get("before") is not None:
            raise ValidationError("翻页位置无效，请从第一页重新翻页", "before")


class SearchArgs(_ListFilters):
    """The posted filter form: the search text with the filters chosen beside it."""

    q = fields.String(validate=length(max=Q_MAX))
    # the two checkboxes: ticked ("1") or absent
    overdue = fields.Boolean(truthy={"1"}, falsy={"0"})
    repeat = fields.Boolean(truthy={"1"}, falsy={"0"})


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

    @property
    def search_id(self) -> str | None:
        return self.values.get("search_id")

    def query_args(self, drop: tuple = (), **override) -> dict:
        """Arguments for url_for: the filters as chosen, less ``drop``, plus overrides (e.g. page). The search
        text is never one of them: its saved search's id ``s`` stands for it (drop "q" to leave it out)."""
        out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.active().items()
               if k not in drop and k != "q"}
        if self.search_id and "q" not in drop:
            out["s"] = self.search_id
        out.update({k: v for k, v in override.items() if v is not None})
        return out


def unit_options(actor: Actor, limit: int = 500) -> list[OrgUnit]:
    """Units of the actor's jurisdiction for the unit filter (grids left out: a village covers them)."""
    stmt = (select(OrgUnit).where(unit_filter(actor, "case.read", OrgUnit.path), OrgUnit.kind != UnitKind.grid,
                                  OrgUnit.is_active.is_(True)).order_by(OrgUnit.path).limit(limit))
    return list(db.session.scalars(stmt))


def _load(schema: BaseSchema, raw: dict) -> dict:
    try:
        return schema.load(raw)
    except ValidationError as exc:
        raise ValidationFailed({str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                                for k, v in exc.messages.items()}) from exc


def check_unit(actor: Actor, values: dict) -> dict:
    """The unit filter must be one of the actor's units (refused, never silently widened or revealed)."""
    unit_id = values.get("unit")
    if unit_id is not None:
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id,
                                                       unit_filter(actor, "case.read", OrgUnit.path)))
        if unit is None:
            raise ValidationFailed({"unit": ["请从列表中选择"]})
        values["unit_obj"] = unit
    return values


def parse_filters(actor: Actor, args, *, now: datetime | None = None) -> Filters:
    """Validate GET arguments (a MultiDict or dict); ValidationFailed with Chinese messages when wrong. ``s``
    brings back the actor's own saved search (NotFound for anyone else's, SearchExpired when too old); a
    search text in the URL (``q``) is refused."""
    raw = {k: args.get(k) for k in args}
    if "q" in raw:
        raise ValidationFailed({"q": [Q_IN_URL]})
    values = check_unit(actor, _load(FilterArgs(), raw))
    search_id = values.pop("s", None)
    if search_id is not None:
        search = get_search_or_404(search_id, actor=actor, now=now)
        values["q"] = search_text(search)
        values["search_id"] = search.id
    return Filters(values)


def search_form_values(actor: Actor, args: dict) -> dict:
    """The posted filter form as ``SearchArgs`` loaded it, the unit checked as for the list, and the values
    as ``FilterArgs`` loads them, so that they travel on to the list's URL unchanged."""
    values = check_unit(actor, dict(args))
    for name in ("overdue", "repeat"):
        values[name] = "1" if values.pop(name, False) else None
    return values


# --- saved searches ---------------------------------------------------------------------------------------

class SearchExpired(NotFound):
    """The actor's own search, older than SEARCH_TTL: the page says so (anyone else's is plainly not found)."""

    default_message = "该搜索已过期，请重新搜索"


def save_search(actor: Actor, q: str, *, now: datetime | None = None) -> CaseSearch:
    """Keep ``q`` (encrypted) under a fresh random id for the actor; expired searches of everyone are purged
    on the way. Never commits (the caller owns the transaction)."""
    if actor.user_id is None:
        raise PermissionDenied()
    now = now or utcnow()
    db.session.execute(delete(CaseSearch).where(CaseSearch.created_at < now - SEARCH_TTL))
    search = CaseSearch(id=secrets.token_urlsafe(24), user_id=actor.user_id, created_at=now,
                        criteria={"v": 1, "q": provider().encrypt(q)})
    db.session.add(search)
    db.session.flush()
    return search


def get_search_or_404(search_id, *, actor: Actor, now: datetime | None = None) -> CaseSearch:
    """The actor's own saved search. Another user's id, a malformed or unknown one: NotFound, alike."""
    if not isinstance(search_id, str) or not SEARCH_ID_RE.fullmatch(search_id) or actor.user_id is None:
        raise NotFound()
    search = db.session.scalar(select(CaseSearch).where(CaseSearch.id == search_id,
                                                        CaseSearch.user_id == actor.user_id))
    if search is None:
        raise NotFound()
    if search.created_at < (now or utcnow()) - SEARCH_TTL:
        raise SearchExpired()
    return search


def search_text(search: CaseSearch) -> str:
    return provider().decrypt(search.criteria["q"])


# --- the search clause ------------------------------------------------------------------------------------

def exact_indexes(q: str) -> tuple[set[str], set[str]]:
    """(document-number blind indexes, phone blind indexes) ``q`` may stand for: every document type whose
    rules it satisfies, normalised as intake normalises it, so the index matches however it was typed."""
    if not any(c.isdigit() for c in q):
        return set(), set()
    crypto = provider()
    documents, phones = set(), set()
    for kind in IdType:
        with suppress(ValueError):
            documents.add(crypto.blind_index(normalize_document(kind, q)))
    with suppress(ValueError):
        phones.add(crypto.blind_index(normalize_phone(q)))
    return documents, phones


def _reads_as_identifier(text: str) -> bool:
    for check in (lambda v: normalize_document(IdType.resident_id, v), normalize_phone):
        with suppress(ValueError):
            check(text)
            return True
    return False


def is_personal_identifier(q: str) -> bool:
    """Whether ``q`` holds a resident ID number or a phone anywhere in it: what must never be sent in a URL
    (the API's GET list refuses it and points to its POST search). Read as a clerk types it — full-width
    digits (NFKC), among other words, split by spaces or hyphens."""
    # A case number's digits may happen to form a valid ID number: case numbers are not read.
    words = [w for w in unicodedata.normalize("NFKC", q).split() if not NUMBER_RE.fullmatch(w.upper())]
    text = " ".join(words)
    # Digit groups a clerk separates ("139 0101 9876", "110101-19900307-1233") are read as one.
    joined = re.sub(r"(?<=[0-9])[\s\-]+(?=[0-9Xx])", "", text)
    for candidate in (text, *words, *joined.split()):
        if _reads_as_identifier(candidate) or _reads_as_identifier(candidate.replace("-", "")):
            return True
    return False


def _word_clause(word: str):
    """A number prefix (an index range on the unique number), or the word in the summary or a party's name
    (the full-text index, center.cases.listing.terms); a word with nothing indexable is matched as text."""
    prefix = word.upper()
    number = and_(Case.number >= prefix, Case.number < prefix + "\uffff")
    found = terms.matching_ids(word)
    if found is None:
        return or_(number, Case.summary.contains(word, autoescape=True),
                   Case.id.in_(select(Party.case_id).where(Party.name.contains(word, autoescape=True))))
    return or_(number, Case.id.in_(found))


def _short_numbers(year: str | None, serial: str) -> list[str]:
    """The full numbers a short one may stand for — every district prefix, the year given or each year since
    the first case — looked up by the unique index (a LIKE '%-000123' would read every number)."""
    prefixes = sorted(p for p in db.session.scalars(select(OrgUnit.case_prefix).where(
        OrgUnit.kind == UnitKind.district, OrgUnit.case_prefix.is_not(None))) if p)
    # every year a number can carry (an imported register keeps its old numbers): a few dozen probes
    years = [int(year)] if year else list(range(FIRST_YEAR, utcnow().year + 2))
    return [f"{p}-{y:04d}-{serial.zfill(6)}" for p in prefixes for y in years]


def search_clause(q: str):
    """A document number or phone (exact, blind index), the short number, a number prefix, or words that
    each appear in the summary, the number or a party's name; the user's wildcards escaped."""
    q = q.strip()
    clauses = []
    documents, phones = exact_indexes(q)
    if documents or phones:
        clauses.append(Case.id.in_(select(Party.case_id).where(or_(Party.id_index.in_(sorted(documents)),
                                                                   Party.phone_index.in_(sorted(phones))))))
    short = SHORT_NUMBER_RE.fullmatch(q)
    if short:
        clauses.append(Case.number.in_(_short_numbers(*short.groups())))
    words = q.split()[:WORDS_MAX]
    if words:
        clauses.append(and_(*[_word_clause(w) for w in words]))
    return or_(*clauses) if clauses else Case.id.is_(None)


def _ids(stmt) -> set[int] | None:
    """The ids ``stmt`` selects, or None when there are more than SEARCH_CANDIDATES."""
    found = set(db.session.scalars(stmt.limit(SEARCH_CANDIDATES + 1)))
    return found if len(found) <= SEARCH_CANDIDATES else None


def search_candidates(q: str) -> set[int] | None:
    """The cases ``search_clause`` matches, each of its arms asked of its own index (an OR of them in one
    statement would read every case), or None when an arm matches too many to start from."""
    q = q.strip()
    found: set[int] = set()
    documents, phones = exact_indexes(q)
    arms = []
    if documents or phones:
        arms.append(select(Party.case_id).where(or_(Party.id_index.in_(sorted(documents)),
                                                    Party.phone_index.in_(sorted(phones)))))
    short = SHORT_NUMBER_RE.fullmatch(q)
    if short:
        arms.append(select(Case.id).where(Case.number.in_(_short_numbers(*short.groups()))))
    for stmt in arms:
        ids = _ids(stmt)
        if ids is None:
            return None
        found |= ids
    words = q.split()[:WORDS_MAX]
    matched: set[int] | None = None
    for word in words:
        prefix = word.upper()
        by_number = _ids(select(Case.id).where(Case.number >= prefix, Case.number < prefix + "\uffff"))
        grams = terms.matching_ids(word)
        if grams is None or by_number is None:
            return None  # nothing indexable in the word, or too many numbers: walk
        by_words = _ids(grams)
        if by_words is None:
            return None
        ids = by_number | by_words
        matched = ids if matched is None else matched & ids
    return found | (matched or set())


def filter_where(actor: Actor, filters: Filters, today: date | None = None) -> reach.Where:
    """The filters as a scope-table ``Where``: what the row carries is filtered on the row (status, kind,
    received time, the queues, the unit), the rest on the case (category, colour, channel, repeat, search)."""
    today = today or today_shanghai()
    v = filters.values
    rows: list = []
    cases: list = []
    if v.get("status"):
        rows.append(lambda r, x=v["status"]: r.status == x)
    if v.get("kind"):
        rows.append(lambda r, x=v["kind"]: r.case_kind == x)
    for name, column in (("category", Case.category), ("risk", Case.risk_colour), ("channel", Case.channel)):
        if v.get(name):
            cases.append(column == v[name])
    if v.get("received_from"):
        rows.append(lambda r, x=_start_of(v["received_from"]): r.received_at >= x)
    if v.get("received_to"):
        rows.append(lambda r, x=_start_of(v["received_to"] + timedelta(days=1)): r.received_at < x)
    if v.get("overdue"):
        rows.append(lambda r: queue_row_clause(actor, "overdue", today, r))
    if v.get("repeat"):
        cases.append(Case.repeat_of_case_id.is_not(None))
    if v.get("queue"):
        rows.append(lambda r, x=v["queue"]: queue_row_clause(actor, x, today, r))
    candidates = None
    if v.get("q"):
        # A search names few cases: start from them (the full-text and blind indexes give them) and probe
        # each one's ways in, rather than walk the whole jurisdiction testing each case. Too many to start
        # from (a word half the district uses): walk, testing the clause, as the other filters do.
        found = search_candidates(v["q"])
        if found is not None:
            candidates = tuple(sorted(found))
        else:
            cases.append(search_clause(v["q"]))
    unit = v.get("unit_obj")
    return reach.Where(tuple(rows), tuple(cases), unit.id if unit is not None else None, candidates)


def _start_of(day: date) -> datetime:
    """Midnight in Shanghai of ``day``, in UTC (received_at is stored in UTC)."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)


@dataclass(frozen=True)
class Page:
    cases: list
    total: int
    page: int
    pages: int
    #: where this page starts and ends in the list's order: the pager's links go on from here (keyset), so
    #: a deep page costs what the first one does
    first: reach.Cursor | None = None
    last: reach.Cursor | None = None

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def search_cases(actor: Actor, filters: Filters, *, page: int | None = None, per_page: int = PAGE_SIZE,
                 today: date | None = None, where: reach.Where | None = None, total: int | None = None) -> Page:
    """One page of the list. ``after`` / ``before`` in the filters (the pager's links) continue next to the
    neighbouring page; a page number alone (a typed URL) is counted from the start. ``where`` and ``total``:
    the filters' clause and count when the caller has them already (the list view counts its queues)."""
    where = filter_where(actor, filters, today) if where is None else where
    total = reach.count(actor, "case.read", where=where) if total is None else total
    pages = max(1, -(-total // per_page))
    page = min(page or filters.page, pages)
    after, before = filters.values.get("after"), filters.values.get("before")
    if after is not None or before is not None:
        rows = reach.page(actor, "case.read", limit=per_page, where=where, after=after, before=before)
    else:
        rows = reach.page(actor, "case.read", limit=per_page, offset=(page - 1) * per_page, where=where)
    if not rows and (after is not None or before is not None):  # stale cursor: the page from the start
        rows = reach.page(actor, "case.read", limit=per_page, offset=(page - 1) * per_page, where=where)
    return Page(cases_by_ids([i for i, _ in rows]), total, page, pages,
                rows[0][1] if rows else None, rows[-1][1] if rows else None)
