"""State snapshots ("nothing changed") and the case page reader of the authority tests."""

from __future__ import annotations

import re

from sqlalchemy import func, select

ZHUJIAN = "区住房和城乡建设委员会"


def _case_tables():
    from center.cases.models import (
        Attachment,
        CaseDocument,
        CaseEvent,
        Deadline,
        Evaluation,
        Extension,
        FollowUpVisit,
        MediationSession,
        Party,
        Review,
        ServiceRecord,
        Supervision,
    )
    from center.departments.models import CaseAssignment

    return [m.__table__ for m in (Party, CaseEvent, Deadline, CaseAssignment, CaseDocument, ServiceRecord,
                                  MediationSession, Extension, Supervision, Evaluation, FollowUpVisit, Review,
                                  Attachment)]


def snapshot(db, case_id: int | None) -> dict:
    """Everything a case step could change: the case row (status, handling unit and department, owner …),
    every row of its events, deadlines (met_at), assignments, documents, service records, sessions,
    extension, 督办, evaluations, visits, reviews and attachments; the number of cases; audit rows other than
    permission denials; notifications queued."""
    from center.cases.models import Case
    from core.audit.models import AuditEntry
    from notify.models import Notification

    db.session.expire_all()
    out: dict = {}
    if case_id is not None:
        cases = Case.__table__
        out["case"] = tuple(db.session.execute(select(cases).where(cases.c.id == case_id)).one())
        for table in _case_tables():
            out[table.name] = [tuple(r) for r in db.session.execute(
                select(table).where(table.c.case_id == case_id).order_by(table.c.id))]
    out["cases"] = db.session.scalar(select(func.count()).select_from(Case))
    out["audit"] = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                     .where(AuditEntry.action != "permission.denied"))
    out["notifications"] = db.session.scalar(select(func.count()).select_from(Notification))
    return out


def denials(db) -> int:
    from core.audit.models import AuditEntry

    return db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "permission.denied"))


def changes(before: dict, after: dict) -> list[str]:
    return [key for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]


def new_events(db, case_id: int, before: dict) -> list[str]:
    from center.cases.models import CaseEvent

    known = {row[0] for row in before.get("case_events", [])}
    rows = db.session.execute(select(CaseEvent.id, CaseEvent.action).where(CaseEvent.case_id == case_id)).all()
    return [action for id_, action in rows if id_ not in known]


def status_of(db, case_id: int) -> str:
    from center.cases.models import Case

    db.session.expire_all()
    return str(db.session.get(Case, case_id).status)


# --- the case page ------------------------------------------------------------------------------------------

_URL = re.compile(r'(?:action|href)="(/cases/[^"#?]+)"')


def offered(html: str, s, *, any_assignment: bool = False) -> set[str]:
    """The actions a case page offers, by the forms and links it shows (names as in the table). An assignment
    step counts as the table's action on the assignment that action is about (acknowledge, arrive: the
    summoned 区民政局; take: the queued 区住建委; complete: the working 区信访局); withdraw on any. With
    ``any_assignment`` a step counts whatever assignment it is on."""
    base = f"/cases/{s.number}"
    by_id = {v: k for k, v in s.assignments.items()}
    target = {"acknowledge": "区民政局", "arrive": "区民政局", "take": ZHUJIAN, "complete": "区信访局"}
    found: set[str] = set()
    for url in _URL.findall(html):
        if not url.startswith(base + "/"):
            continue
        rest = url[len(base) + 1:]
        m = re.fullmatch(r"transitions/(\w+)", rest)
        if m:
            found.add(m.group(1))
            continue
        m = re.fullmatch(r"assignments/(\d+)/(\w+)", rest)
        if m:
            step, dept = m.group(2), by_id.get(int(m.group(1)))
            if any_assignment or step == "withdraw" or target.get(step) == dept:
                found.add(step)
            else:
                found.add(f"{step}@{dept}")
            continue
        simple = {"assignments": "dispatch", "owner": "assign_owner", "regrade": "regrade",
                  "documents/draft": "draft", "extension": "extension", "mediation/sessions": "mediation_session",
                  "evaluations": "evaluation", "follow-ups": "follow_up", "reopen": "reopen",
                  "reviews": "review_request", "supervise": "supervise", "notes": "note",
                  "attachments": "upload"}
        if rest in simple:
            found.add(simple[rest])
            continue
        for pattern, name in ((r"documents/\d+/approve", "doc_approve"), (r"documents/\d+/serve", "serve"),
                              (r"mediation/\d+/outcome", "mediation_outcome"),
                              (r"mediation/\d+/approve", "mediation_approve"),
                              (r"mediation/\d+/approve-close", "mediation_approve_close"),
                              (r"reviews/\d+/decision", "review_decide"), (r"reviews/\d+/pause", "review_pause")):
            if re.fullmatch(pattern, rest):
                found.add(name)
                break
    return found
