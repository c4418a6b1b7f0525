"""督办 (DOMAIN.md §2 Supervision): the scheduled scan of running deadlines and a leader's 督办 by hand.

Levels of the scan, per open deadline (``met_at IS NULL``) of a case not in a final status:

1. 提醒 — at least 80 % of the period (``started_on`` → ``due_on``) has elapsed and it is not overdue; the
   same threshold as the yellow colour of ``center.cases.presenters.colour_of``. To the assignee, or the
   handling unit's staff when nobody is assigned.
2. 督办通知 — overdue (today after ``due_on``): a new deadline ``today + CASE_SUPERVISION_GRACE_DAYS`` working
   days (default 5) is set on the 督办 row; to the level-1 recipients plus the handling unit's leaders and the
   owner leader (包案).
3. 挂牌督办 — the level-2 new deadline has passed and the deadline is still unmet and overdue (an approved
   extension that moved ``due_on`` forward holds it back); to the district leaders.

Each level is one Supervision row, one CaseEvent ("supervision_<level>"), ``Deadline.supervision_level``
raised, one audit row and one notification per recipient, and it is never repeated for the same deadline:
the candidate query only picks deadlines below the level, and UNIQUE(deadline_id, level) is the backstop
against two scans at once (the losing insert is skipped in its own savepoint).

A deadline first seen already overdue (the period jumped past 80 % between two scans, or the scheduler was
down) gets level 2 directly and **level 1 is skipped for good**: a "due soon" reminder about an overdue
deadline says nothing, so no level-1 row is ever written for it afterwards.

Operations never commit; the scheduler's ``run_job`` (or the view) owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from center.cases.lifecycle.operations import FINAL_STATUSES, deadline_rules
from center.cases.models import (
    SUPERVISION_FORM_LABELS,
    SUPERVISION_LEVEL_LABELS,
    Case,
    Deadline,
    DeadlineKind,
    Supervision,
    SupervisionForm,
)
from center.cases.presenters import RULE_LABELS
from center.cases.queries import can_see, cases_query, hearers
from core.accounts.models import Role, User
from core.accounts.queries import leaders_of, users_holding
from core.actor import Actor
from core.auth.permissions import require
from core.db import db, utcnow
from core.errors import InvalidTransition, NotFound, ValidationFailed
from core.org.models import OrgUnit, UnitKind
from core.work import supervision as supervision_service
from core.work import timeline
from core.work.deadlines import eighty_percent_used, level_due  # noqa: F401 - level_due: the rule the SQL mirrors
from notify.render import shorten

logger = logging.getLogger(__name__)

KIND = "case"
SUPERVISE = "case.supervise"
NOTIFY_EVENT = "case.supervision"
DEFAULT_GRACE_DAYS = 5
#: Roles that work a case at its handling unit (township, district center or village).
STAFF_ROLES = (Role.township_staff, Role.center_staff, Role.village_cadre)
#: Manual 督办 forms a leader may choose (reminder and notice are the scan's own).
MANUAL_FORMS = (SupervisionForm.phone, SupervisionForm.letter, SupervisionForm.interview, SupervisionForm.on_site,
                SupervisionForm.joint, SupervisionForm.listed)
MANUAL_LEVELS = (2, 3)
#: No 督办 on a case that has ended (closed cases with a running review deadline still get theirs).
NOT_SUPERVISED = FINAL_STATUSES
LEVEL_FORMS = {1: SupervisionForm.reminder, 2: SupervisionForm.notice, 3: SupervisionForm.listed}


# --- recipients ---------------------------------------------------------------------------------------------

class _Recipients:
    """Active users by (unit, roles), cached for one scan: one query per handling unit, not per deadline."""

    def __init__(self) -> None:
        self._cache: dict[tuple, list[User]] = {}

    def at(self, unit_ids: Iterable[int], roles: Iterable[Role]) -> list[User]:
        key = (tuple(sorted(unit_ids)), tuple(sorted(str(r) for r in roles)))
        if key not in self._cache:
            self._cache[key] = users_holding(roles, unit_ids=key[0])
        return self._cache[key]

    def leaders(self, unit: OrgUnit) -> list[User]:
        """The unit's leaders (``core.accounts.queries.leaders_of``: the village head for a village)."""
        key = ("leaders", unit.id)
        if key not in self._cache:
            self._cache[key] = leaders_of(unit)
        return self._cache[key]

    def district_leaders(self, unit: OrgUnit) -> list[User]:
        districts = db.session.scalars(select(OrgUnit).where(
            OrgUnit.id.in_(unit.ancestor_ids or [unit.id]), OrgUnit.kind == UnitKind.district))
        return [user for district in districts for user in self.leaders(district)]


def _users(*groups: Iterable[User | None]) -> list[User]:
    seen: dict[int, User] = {}
    for group in groups:
        for user in group:
            if user is not None and user.is_active and user.id not in seen:
                seen[user.id] = user
    return list(seen.values())


def recipients_for(case: Case, level: int, cache: _Recipients | None = None) -> list[User]:
    """Who hears of a 督办 of ``level`` on ``case`` (see the module docstring)."""
    cache = cache or _Recipients()
    unit = case.handling_unit
    first = [case.assignee] if case.assignee is not None else cache.at([unit.id], STAFF_ROLES)
    if level == 1:
        return _users(first)
    if level == 2:
        return _users(first, cache.leaders(unit), [case.owner_leader])
    return _users(cache.district_leaders(unit))


# --- the scan -------------------------------------------------------------------------------------------------

def _eighty_percent(today: date):
    """SQL: at least 80 % of started_on → due_on has elapsed by ``today`` (the yellow of the desks)."""
    return eighty_percent_used(Deadline.started_on, Deadline.due_on, today)


def _candidates(actor: Actor, today: date):
    """(case, deadline, level-2 new due date) for every deadline owing a 督办 level, in one query."""
    level2 = aliased(Supervision)
    overdue = Deadline.due_on < today
    stmt = (cases_query(actor)
            .add_columns(Deadline, level2.new_due_on)
            .join(Deadline, Deadline.case_id == Case.id)
            .outerjoin(level2, and_(level2.deadline_id == Deadline.id, level2.level == 2))
            .where(Deadline.met_at.is_(None), Deadline.kind == DeadlineKind.duty,
                   Deadline.supervision_level < 3, Deadline.started_on <= today,
                   Case.status.not_in([s.value for s in NOT_SUPERVISED]))
            .where(or_(and_(Deadline.supervision_level < 2, overdue),
                       and_(Deadline.supervision_level < 1, ~overdue, _eighty_percent(today)),
                       and_(Deadline.supervision_level == 2, overdue, level2.new_due_on < today)))
            .options(selectinload(Case.handling_unit), selectinload(Case.assignee),
                     selectinload(Case.owner_leader))
            .order_by(Deadline.id))
    return db.session.execute(stmt).all()


def grace_days() -> int:
    from flask import current_app

    return int(current_app.config.get("CASE_SUPERVISION_GRACE_DAYS") or DEFAULT_GRACE_DAYS)


def rule_label(rule: str) -> str:
    spec = deadline_rules().get(rule)
    return RULE_LABELS.get(rule) or (spec.label if spec else rule)


def scan(actor: Actor, *, today: date) -> dict[int, int]:
    """Issue every 督办 level owed on ``today`` (Asia/Shanghai) on cases. Returns {level: how many were issued}.
    The level rule and the walk are the kernel's (core.work.supervision), shared by every supervised subject."""
    return supervision_service.scan(actor, today=today, kinds=[KIND])


def _notify_scanned(issued: list[tuple[Case, list[tuple[Supervision, Deadline]]]]) -> None:
    cache = _Recipients()  # one lookup per handling unit for the whole scan
    for case, rows in issued:
        _notify_case(case, rows, cache)


def register() -> None:
    """Cases are a supervised subject (called from the 督办 module's init_app)."""
    supervision_service.register_supervised(KIND, candidates=_candidates, issue=_issue, notify=_notify_scanned,
                                            grace_days=grace_days)


def _notify_case(case: Case, rows: list[tuple[Supervision, Deadline]], cache: _Recipients) -> None:
    """One message per person per case, whatever number of its deadlines a scan supervised: each person hears
    every level addressed to them in one card (a case with three running deadlines is one 督办, not three)."""
    heard: dict[int, tuple[User, list[tuple[Supervision, Deadline]]]] = {}
    for row, deadline in rows:
        for user in recipients_for(case, row.level, cache):
            heard.setdefault(user.id, (user, []))[1].append((row, deadline))
    if not heard:
        logger.warning("督办 on case %s: nobody to notify", case.number)
    for user, mine in heard.values():
        top = max(mine, key=lambda item: item[0].level)[0]
        notes = "；".join(r.note for r, _ in mine)
        due = min(r.new_due_on or d.due_on for r, d in mine)
        ids = "-".join(str(r.id) for r, _ in mine)
        _notify(case, top, [user], key=lambda u, ids=ids: f"supervision:{case.id}:{ids}:{u.id}", due=due,
                note=notes)


def _note(case: Case, deadline: Deadline, level: int, new_due: date | None) -> str:
    label = rule_label(deadline.rule)
    if level == 1:
        return f"临期提醒：“{label}”期限将于 {deadline.due_on.isoformat()} 届满，请抓紧办理"
    if level == 2:
        return (f"超期督办：“{label}”期限已于 {deadline.due_on.isoformat()} 届满，"
                f"请于 {new_due.isoformat()} 前办结并报告办理情况")
    return f"挂牌督办：“{label}”期限 {deadline.due_on.isoformat()} 已超期，督办通知限期届满仍未办结，报区领导挂牌督办"


def _issue(actor: Actor, case: Case, deadline: Deadline, level: int, *, new_due_on: date | None, now: datetime
           ) -> Supervision | None:
    """Record one level on one deadline (the caller tells the people, once per case: ``_notify_case``)."""
    note = _note(case, deadline, level, new_due_on)
    row = Supervision(case_id=case.id, deadline_id=deadline.id, level=level, form=LEVEL_FORMS[level],
                      issued_by_user_id=actor.user_id, issued_at=now, new_due_on=new_due_on, note=note,
                      unit_id=case.handling_unit_id)
    previous = deadline.supervision_level
    try:
        # One savepoint for the whole level, audit row included (the audit guard checks each savepoint).
        with db.session.begin_nested():
            db.session.add(row)
            deadline.supervision_level = max(previous, level)
            timeline.log(case, f"supervision_{level}", actor=actor, at=now, note=note,
                         changed=["supervision_level"], audit_object=row,
                         audit_changed=["deadline_id", "level", "new_due_on", "supervision_level"])
            db.session.flush()
    except IntegrityError:  # another scan issued this level a moment ago: never twice
        logger.info("督办 level %d of deadline %s already issued", level, deadline.id)
        db.session.refresh(deadline)
        return None
    return row


def _notify(case: Case, row: Supervision, users: list[User], *, key, due: date, note: str | None = None) -> None:
    from notify.outbox import enqueue

    title = f"【{SUPERVISION_LEVEL_LABELS[row.level]}】{case.number}"
    summary = shorten(case.summary, 40)
    body = f"{case.number}《{summary}》：{note or row.note}。办理期限 {due.isoformat()}。"
    payload = {"title": title, "body": body, "url": f"/cases/{case.number}", "number": case.number,
               "status": case.status_label}
    priority = "normal" if row.level == 1 else "urgent"
    if not users:
        logger.warning("督办 %s on case %s: nobody to notify", row.level, case.number)
    for user in hearers(case, users):  # never the accused unit's users on a 检举控告 case
        enqueue(NOTIFY_EVENT, user, payload, key=key(user), priority=priority)


# --- by hand ----------------------------------------------------------------------------------------------------

def can_supervise(actor: Actor, case: Case) -> bool:
    from core.auth.permissions import can

    return can(actor, SUPERVISE, case)


def supervise(case: Case, *, actor: Actor, level: int, form: SupervisionForm | str, note: str,
              today: date, new_due_on: date | None = None) -> Supervision:
    """A leader's 督办 by hand (level 2 督办通知 or 3 挂牌督办), addressed to the handling unit."""
    if not can_see(actor, case):
        raise NotFound()
    require(actor, SUPERVISE, case)
    errors: dict[str, list[str]] = {}
    if level not in MANUAL_LEVELS:
        errors["level"] = ["请选择督办级别"]
    try:
        form = SupervisionForm(form)
    except ValueError:
        form = None
    if form not in MANUAL_FORMS:
        errors["form"] = ["请选择督办方式"]
    if not note or not note.strip():
        errors["note"] = ["请填写督办意见"]
    if new_due_on is not None and new_due_on < today:
        errors["new_due_on"] = ["限办日期不能早于今天"]
    if errors:
        raise ValidationFailed(errors)
    if case.status in NOT_SUPERVISED:
        raise InvalidTransition(f"事项当前状态为“{case.status_label}”，已无需督办")
    now = utcnow()
    row = Supervision(case_id=case.id, deadline_id=None, level=level, form=form, issued_by_user_id=actor.user_id,
                      issued_at=now, new_due_on=new_due_on, note=note.strip(), unit_id=case.handling_unit_id)
    db.session.add(row)
    db.session.flush()
    text = f"{SUPERVISION_LEVEL_LABELS[level]}（{SUPERVISION_FORM_LABELS[form]}）：{row.note}"
    if new_due_on is not None:
        text += f"；限 {new_due_on.isoformat()} 前办结"
    timeline.log(case, "supervision_manual", actor=actor, at=now, note=text, changed=["supervision"],
                 audit="case.supervise", audit_object=row, audit_changed=["level", "form", "note", "new_due_on"])
    cache = _Recipients()
    unit = case.handling_unit
    users = _users([case.assignee], cache.at([unit.id], STAFF_ROLES), cache.leaders(unit))
    users = [u for u in users if u.id != actor.user_id]
    due = new_due_on or _next_due(case) or today
    _notify(case, row, users, key=lambda user: f"supervision:manual:{row.id}:{user.id}", due=due)
    return row


def _next_due(case: Case) -> date | None:
    open_ = sorted(d.due_on for d in case.deadlines if d.met_at is None and not d.is_window)
    return open_[0] if open_ else None


# --- reading ----------------------------------------------------------------------------------------------------

def supervisions_of(case: Case) -> list[Supervision]:
    """Every 督办 of a case (the caller loaded the case through its scoped query), oldest first."""
    return list(db.session.scalars(select(Supervision).where(Supervision.case_id == case.id)
                                   .options(selectinload(Supervision.deadline), selectinload(Supervision.unit))
                                   .order_by(Supervision.issued_at, Supervision.id)))


__all__ = ["scan", "supervise", "supervisions_of", "recipients_for", "level_due", "can_supervise",
           "MANUAL_FORMS", "MANUAL_LEVELS"]
