"""The facts a formal document names that are read from the case: who petitioned, why it was not accepted,
and the organ's next document number (文号) of the year."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from center.cases.models import Case, CaseDocument, CaseKind, DocumentKind, PartyRole
from core.db import db
from core.org.models import Department, OrgUnit

DOC_NO_PREFIX = {DocumentKind.answer: "复", DocumentKind.not_accepted: "不受", DocumentKind.extension: "延",
                 DocumentKind.acceptance: "受"}


def petitioner_names(case: Case) -> str:
    names = [p.name for p in case.parties if p.role == PartyRole.applicant]
    return "、".join(names) or ("信访人" if case.kind == CaseKind.petition else "申请人")


def not_accept_reason(case: Case) -> str:
    notes = [e.note for e in sorted(case.events, key=lambda e: (e.at, e.id)) if e.action == "not_accept"]
    return (notes[-1] or "") if notes else ""


def propose_doc_no(unit: OrgUnit, department: Department | None, kind: DocumentKind, year: int) -> str:
    """e.g. 青石信复〔2026〕第3号: the organ's short name, the kind, the year and the next number this year."""
    short = (department.name if department is not None else unit.name)
    for prefix in ("区",):
        short = short.removeprefix(prefix) if len(short) > 2 else short
    for suffix in ("街道", "社区", "镇", "乡", "区", "村", "局", "委员会"):
        if short.endswith(suffix) and len(short) > len(suffix):
            short = short[: -len(suffix)]
            break
    same_organ = (CaseDocument.organ_department_id == department.id if department is not None
                  else CaseDocument.organ_department_id.is_(None))
    count = db.session.scalar(select(func.count()).select_from(CaseDocument).where(
        CaseDocument.organ_unit_id == unit.id, same_organ, CaseDocument.kind == kind,
        CaseDocument.superseded.is_(False), CaseDocument.created_at >= datetime(year, 1, 1, tzinfo=UTC))) or 0
    marker = ("" if "信" in short else "信") + DOC_NO_PREFIX.get(kind, "")
    return f"{short[:4]}{marker}〔{year}〕第{count + 1}号"
