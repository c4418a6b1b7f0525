"""Personal data leaving the registry: the .xlsx export of a filtered case list and the audited reveal of one
party's document number, phone and address (DESIGN.md §4: masked in lists and exports, revealed only with
permission and an audit row; values never in logs, events or audit rows — field names only)."""

from __future__ import annotations

import io
import logging
from datetime import date

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased, selectinload

from center.cases import reach
from center.cases.intake.operations import reveal
from center.cases.listing.queues import cases_by_ids
from center.cases.listing.search import FILTER_NAMES, Filters, filter_where
from center.cases.models import (
    CHANNEL_LABELS,
    KIND_LABELS,
    PETITION_CLASS_LABELS,
    RISK_LABELS,
    Case,
    Party,
    PartyRole,
)
from center.cases.presenters import next_deadlines, today_shanghai
from center.departments.models import LIVE_ASSIGNMENT, CaseAssignment
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import granting, require
from core.auth.scoping import unit_filter
from core.crypto import mask
from core.db import db, get_or_404
from core.errors import NotFound
from core.org.models import OrgUnit
from core.security import strip_bad_text
from core.timefmt import SHANGHAI

logger = logging.getLogger(__name__)

REVEAL = "case.reveal"
#: An export is a working list, not a dump of the registry.
EXPORT_CAP = 5000
HEADER = ("事项编号", "类型", "信访类别", "事项类别", "来源", "状态", "风险", "办理单位", "登记时间", "下一期限",
          "剩余天数", "事项摘要", "申请人", "申请人电话", "申请人证件号码")
WIDTHS = (20, 10, 12, 14, 12, 12, 6, 22, 18, 12, 10, 48, 12, 16, 22)
PERSONAL_FIELDS = ("id_number", "phone", "address")


def revealable_ids(actor: Actor, case_ids: list[int]) -> set[int]:
    """Which of these cases the actor may reveal: the same rule as ``require(actor, "case.reveal", case)``
    (a reveal-granting membership covers the origin or handling unit, or a live assignment), in SQL."""
    if not case_ids:
        return set()
    if actor.is_system:
        return set(case_ids)
    if not granting(actor, REVEAL):
        return set()
    origin, handling = aliased(OrgUnit), aliased(OrgUnit)
    covered = or_(unit_filter(actor, REVEAL, origin.path), unit_filter(actor, REVEAL, handling.path))
    departments = sorted({m.department_id for m in granting(actor, REVEAL) if m.department_id is not None})
    if departments:
        covered = or_(covered, Case.id.in_(select(CaseAssignment.case_id).where(
            CaseAssignment.department_id.in_(departments),
            CaseAssignment.status.in_([s.value for s in LIVE_ASSIGNMENT]))))
    out: set[int] = set()
    for start in range(0, len(case_ids), 900):
        chunk = case_ids[start:start + 900]
        out.update(db.session.scalars(
            select(Case.id).join(origin, Case.origin_unit_id == origin.id)
            .join(handling, Case.handling_unit_id == handling.id).where(Case.id.in_(chunk), covered)))
    return out


def export_rows(actor: Actor, filters: Filters, *, today: date | None = None, cap: int = EXPORT_CAP,
                unmasked: bool = False):
    """(rows, truncated, plain rows): one row per case, the applicant's phone and ID number masked — unless
    ``unmasked`` (a reveal export: center.cases.listing.reveal_export, with its reason and limits) and the actor
    may reveal that case's parties."""
    today = today or today_shanghai()
    ids = [i for i, _ in reach.page(actor, "case.read", limit=cap + 1, where=filter_where(actor, filters, today))]
    cases = cases_by_ids(ids, selectinload(Case.parties), selectinload(Case.handling_unit))
    truncated = len(cases) > cap
    cases = cases[:cap]
    deadlines: dict = {}
    for start in range(0, len(cases), 900):
        deadlines.update(next_deadlines(cases[start:start + 900], today))
    plain_ok = revealable_ids(actor, [c.id for c in cases]) if unmasked else set()
    rows = []
    for c in cases:
        dl = deadlines.get(c.id)
        applicant = next((p for p in c.parties if p.role == PartyRole.applicant), None)
        name = phone = id_number = ""
        if applicant is not None:
            name = applicant.name
            values = reveal(applicant)
            phone, id_number = values["phone"] or "", values["id_number"] or ""
            if c.id not in plain_ok:
                phone, id_number = mask(phone, 3, 4), mask(id_number, 4, 4)
        rows.append((c.number, KIND_LABELS[c.kind], PETITION_CLASS_LABELS[c.petition_class] if c.petition_class
                     else "", c.category, CHANNEL_LABELS[c.channel], c.status_label, RISK_LABELS[c.risk_colour],
                     c.handling_unit.name, c.received_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                     dl.due_on.isoformat() if dl else "", dl.days_left if dl else "", c.summary, name, phone,
                     id_number))
    return rows, truncated, len(plain_ok)


def build_workbook(rows, *, truncated: bool, cap: int = EXPORT_CAP) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "事项清单"
    ws.append(HEADER)
    for row in rows:
        ws.append([_cell(value) for value in row])
        for cell in ws[ws.max_row]:
            if cell.data_type == "f":  # openpyxl reads text starting with "=" as a formula: keep it text
                cell.data_type = "s"
    for i, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    if truncated:
        ws.append([])
        ws.append([f"注：仅导出前 {cap} 件，请缩小筛选范围后分批导出。"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(value):
    """Text as a worksheet can hold it: control characters, lone surrogates and U+FFFE/U+FFFF (refused at the
    request edge, removed from stored text by migration 0010clean, but a row may come from elsewhere — an
    import, a decrypted field) are dropped, so no stored value can make the export fail."""
    return strip_bad_text(value) if isinstance(value, str) else value


def export_details(filters: Filters, rows: int, truncated: bool, plain: int = 0) -> list[str]:
    """What the audit row keeps of an export: filter names with their values, except the search text (it may
    be a person's name), the row count and how many rows carried personal data unmasked (a bulk reveal must
    show in the audit trail as plainly as a single one). No personal data."""
    out = [f"rows={rows}", f"plain={plain}"]
    if truncated:
        out.append("truncated")
    for name in FILTER_NAMES:
        value = filters.values.get(name)
        if value in (None, ""):
            continue
        out.append("q" if name == "q" else f"{name}={value.isoformat() if isinstance(value, date) else value}")
    return out


# --- reveal ---------------------------------------------------------------------------------------------------

def get_party_or_404(case: Case, party_id) -> Party:
    return get_or_404(select(Party).where(Party.case_id == case.id), party_id)


def reveal_party(case: Case, party: Party, *, actor: Actor) -> dict[str, str | None]:
    """Plain document number, phone and address of a party, with an audit row naming the fields shown (never
    their values), in the caller's transaction. The caller loaded ``case`` scoped and ``party`` by case."""
    require(actor, REVEAL, case)
    if party.case_id != case.id:
        raise NotFound()
    values = reveal(party)
    shown = [name for name in PERSONAL_FIELDS if values[name]]
    record(actor, "case.party_revealed", party, unit_id=case.handling_unit_id,
           changed=[f"case={case.number}", *shown])
    db.session.flush()
    logger.info("party %s of case %s revealed to %s (%s)", party.id, case.number, actor, ",".join(shown))
    return values
