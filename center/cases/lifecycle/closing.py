"""What closing (办结) requires, DOMAIN.md §2: no answer and service record, no close.

- A petition item closes on an **approved answer document** (答复意见书, approved by a leader of the answering
  organ who is not its drafter) **and a service record** of that document — also after 访调对接: the answer
  then records the mediation's result (DOMAIN.md §2: no answer + service record → cannot close).
- A dispute closes on its **mediation outcome** (agreement, or failure with guidance to litigation) approved by
  the handling unit's leader; an approved and served answer document also suffices (an administrative
  department's written handling opinion).

``missing_for_close`` names, in Chinese, what is missing; ``lifecycle.transition`` refuses ``close`` with them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from center.cases.models import Case, CaseDocument, CaseKind, DocumentKind, MediationSession, ServiceRecord
from core.db import db

#: Steps after which the case is in another organ's hands: what that organ did before closes nothing now.
ORGAN_MOVES = frozenset({"escalate", "hand_down", "transfer", "return"})
#: ... and with a reopen (重新办理), the steps that start a new round of handling.
ROUND_STARTS = ORGAN_MOVES | {"reopen"}


def organ_since(case: Case) -> datetime | None:
    """When the current organ took the case (its latest move), or None if it has held it from intake."""
    moves = [e.at for e in case.events if e.action in ORGAN_MOVES]
    return max(moves) if moves else None


def round_started_at(case: Case) -> datetime | None:
    """When the current organ's round of handling began: the latest reopen (重新办理) or move to another organ
    (上报, 交办, 转送, 退回), or None for the first round. Approvals from before it do not close the case: an
    escalated dispute is not closed on the township's mediation outcome by the district."""
    starts = [e.at for e in case.events if e.action in ROUND_STARTS]
    return max(starts) if starts else None


def approved_answer(case: Case) -> CaseDocument | None:
    """The latest approved answer document of the current round, if any."""
    stmt = select(CaseDocument).where(CaseDocument.case_id == case.id, CaseDocument.kind == DocumentKind.answer,
                                      CaseDocument.approved_at.is_not(None))
    since = round_started_at(case)
    if since is not None:
        stmt = stmt.where(CaseDocument.approved_at > since)
    # Only the current organ's answer counts: after a 转送 the department answers in its own name.
    stmt = stmt.where(CaseDocument.organ_unit_id == case.handling_unit_id,
                      CaseDocument.organ_department_id.is_(None) if case.handling_department_id is None
                      else CaseDocument.organ_department_id == case.handling_department_id)
    return db.session.scalar(stmt.order_by(CaseDocument.approved_at.desc(), CaseDocument.id.desc()))


def service_of(document: CaseDocument) -> ServiceRecord | None:
    """The first service of the document: the petitioner received it then, and the 复查 window counts from it
    (a later re-service does not extend the window)."""
    return db.session.scalar(select(ServiceRecord).where(ServiceRecord.document_id == document.id)
                             .order_by(ServiceRecord.served_on, ServiceRecord.id))


def approved_outcome(case: Case) -> MediationSession | None:
    stmt = select(MediationSession).where(MediationSession.case_id == case.id,
                                          MediationSession.outcome.is_not(None),
                                          MediationSession.approved_at.is_not(None))
    since = round_started_at(case)
    if since is not None:
        stmt = stmt.where(MediationSession.approved_at > since)
    return db.session.scalar(stmt.order_by(MediationSession.approved_at.desc()))


def missing_for_close(case: Case) -> list[str]:
    answer = approved_answer(case)
    if answer is not None and service_of(answer) is not None:
        return []
    if case.kind == CaseKind.dispute:
        if approved_outcome(case) is not None:
            return []
        return ["缺少经办理单位负责人审核的调解结果（调解协议或调解不成及引导诉讼的记录）"]
    if answer is None:
        return ["缺少经领导审批的答复意见书"]
    return ["缺少答复意见书的送达记录（送达方式、日期、挂号信或回执编号）"]
