"""Grid workers' writes: 代办 filing for a resident, and asking the handling side to escalate. Operations
take the actor explicitly and never commit (DESIGN.md §3)."""

from __future__ import annotations

import logging

from center.cases.attachments.operations import Prepared, attach
from center.cases.intake.operations import RepeatCandidates, case_for_intake_key, register_case
from center.cases.models import Case, CaseEvent, CaseKind
from center.cases.queries import can_see, hearers
from core.accounts.models import Role, User
from core.accounts.queries import users_holding
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.db import xact_lock
from core.errors import NotFound, ValidationFailed
from core.org.models import OrgUnit
from core.work import timeline
from notify.render import shorten

logger = logging.getLogger(__name__)

REASON_MAX = 500
#: Who hears of a new 代办 matter or an escalation request: the handling unit's desk staff.
DESK_ROLES = (Role.village_cadre, Role.village_head, Role.township_staff, Role.center_staff)


#: Where in the grid the matter is (the phone form's 地点). The Case has no column for it, so it is kept on the
#: 代办委托 timeline entry after this mark — never in the summary, which says what happened and feeds repeat
#: detection — and read back by ``filing_place``.
PLACE_MAX = 100
PLACE_MARK = "；事发地点："


def filing_place(case: Case) -> str | None:
    """The place a grid worker gave when filing ``case`` for a resident (None for other cases)."""
    for event in case.events:
        if event.action == "agent_consent" and event.note and PLACE_MARK in event.note:
            return event.note.split(PLACE_MARK, 1)[1].strip() or None
    return None


def _desk_staff(unit: OrgUnit) -> list[User]:
    return users_holding(DESK_ROLES, unit_ids=[unit.id])


def _tell(users, case: Case, event: str, title: str, body: str, key: str) -> None:
    from notify.outbox import enqueue

    for user in hearers(case, users):
        enqueue(event, user, {"title": title, "body": body, "url": f"/cases/{case.number}", "number": case.number},
                key=f"{key}:{user.id}")


def file_for_resident(actor: Actor, *, grid: OrgUnit, kind: str, resident: dict, summary: str, demands: str | None,
                      category: str, place: str | None, people_count: int, consent: bool,
                      photos: list[Prepared] = (), consent_photo: Prepared | None = None,
                      intake_key: str | None = None, repeat_of: str | None = None) -> tuple[Case, bool]:
    """网格员代办: file a resident's matter on channel grid_agent, from the worker's grid, with the resident's
    consent (委托) recorded. Returns (case, created): a repeated ``intake_key`` returns the earlier case and
    changes nothing (a double or late submit from an offline-kept form). ``repeat_of`` answers the registry's
    repeat question as at the desk (``register_case``: unanswered with candidates → ``RepeatCandidates``)."""
    if intake_key:
        xact_lock(f"intake:{intake_key}")  # the same lock register_case takes: a racing twin waits, then finds it
    earlier = case_for_intake_key(actor, intake_key)
    if earlier is not None:
        return earlier, False
    if not consent:
        raise ValidationFailed({"consent": ["请确认居民已同意由网格员代为登记（委托）"]})
    if kind == CaseKind.petition.value:
        petition_class = "appeal"
    else:
        kind, petition_class = CaseKind.dispute.value, None
    summary_text = (summary or "").strip()  # what happened, alone: the place is kept apart (filing_place)
    place_text = (place or "").strip()[:PLACE_MAX]
    try:
        case = register_case(actor, kind=kind, summary=summary_text, category=category, channel="grid_agent",
                             origin_unit=grid, parties=[{**resident, "role": "applicant", "kind": "person"}],
                             petition_class=petition_class, demands=demands, people_count=people_count,
                             risk_colour="blue" if kind == CaseKind.dispute.value else "yellow",
                             intake_key=intake_key, repeat_of=repeat_of)
    except RepeatCandidates:
        raise  # its field is the phone form's own (repeat_of), and the page lists the candidates
    except ValidationFailed as exc:  # the registry names the party's fields parties.0.*: the form names them plainly
        raise ValidationFailed({key.removeprefix("parties.0."): value for key, value in exc.errors.items()}) from None
    # its audit row ("case.agent_filed", below) names the whole filing, photos included
    consent_event = timeline.log(case, "agent_consent", actor=actor, audit=timeline.NO_AUDIT,
                                 note="居民已确认委托网格员代为登记" + ("，附委托书照片" if consent_photo else "")
                                 + (f"{PLACE_MARK}{place_text}" if place_text else ""),
                                 changed=["consent"] + (["attachments"] if consent_photo else [])
                                 + (["place"] if place_text else []))
    if photos:
        attach(case, list(photos), actor=actor, purpose="photo")
    if consent_photo is not None:
        attach(case, [consent_photo], actor=actor, purpose="consent", event=consent_event)
    record(actor, "case.agent_filed", case, unit_id=case.handling_unit_id,
           changed=["consent"] + (["attachments"] if photos or consent_photo else []))
    _tell(_desk_staff(case.handling_unit), case, "case.agent_filed", "网格员代办新事项",
          f"{grid.name}网格员代办：{shorten(case.summary, 40)}", f"agent-filed:{case.id}")
    logger.info("case %s filed by grid worker %s", case.number, actor)
    return case, True


def request_escalation(case: Case, *, actor: Actor, reason: str) -> CaseEvent:
    """A grid worker asks the handling side to escalate (上报): recorded on the timeline, sent to its desk.
    The state transition itself stays with the handling unit."""
    if not can_see(actor, case):
        raise NotFound()
    require(actor, "case.note", case)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["请说明需要上报的原因"]})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": [f"不能超过 {REASON_MAX} 个字"]})
    event = timeline.log(case, "escalation_requested", actor=actor, note=reason, changed=["escalation_request"])
    _tell(_desk_staff(case.handling_unit), case, "case.escalation_requested", "网格员申请上报",
          f"{case.number}：{shorten(reason, 40)}", f"escalation:{event.id}")
    return event
