"""Case registry writes: intake (``file_case`` / ``register_case``, every intake rule in one place) and repeat
detection. Which units take part (where one files, who may handle) is ``center.cases.routing.units``. Operations never
commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select

from center.cases.intake import identity
from center.cases.intake.numbering import NUMBER_RE, next_number
from center.cases.lifecycle.operations import shanghai_date, start_deadlines
from center.cases.models import (
    DEFAULT_CATEGORIES,
    Case,
    CaseChannel,
    CaseKind,
    CaseStatus,
    Party,
    PartyKind,
    PartyRole,
    PetitionClass,
    RiskColour,
)
from center.cases.queries import can_see, cases_query
from center.cases.routing import units
from center.cases.routing.units import default_handling_unit
from core.actor import Actor
from core.auth.permissions import has_permission
from core.crypto import provider
from core.db import db, utcnow, xact_lock
from core.errors import PermissionDenied, ValidationFailed
from core.org.models import OrgUnit
from core.work import timeline

logger = logging.getLogger(__name__)

#: Repeat petitions: earlier cases of the same person within this window (DOMAIN.md §2).
REPEAT_WINDOW = timedelta(days=365)
#: Candidates read (before the similarity filter) and shown to the clerk.
REPEAT_SCAN, REPEAT_SHOWN = 100, 20
NAME_MAX = 100
INTAKE_KEY_MAX = 64
#: The clerk's answer "this is not a repeat" to the repeat candidates (center.cases.intake.schemas.REPEAT_PATTERN).
NOT_A_REPEAT = "none"
CASE_FIELDS = ("number", "kind", "petition_class", "category", "channel", "summary", "demands", "people_count",
               "risk_colour", "status", "origin_unit_id", "handling_unit_id", "accused_unit_id", "repeat_of_case_id",
               "xinfang_no", "hotline_ticket", "court_case_no", "occurred_on", "parties")


def categories() -> tuple[str, ...]:
    from flask import current_app

    return tuple(current_app.config.get("CASE_CATEGORIES") or DEFAULT_CATEGORIES)


@dataclass(frozen=True)
class PartyInput:
    """A party as the intake form gives it, validated and normalised by ``clean_party``."""

    role: PartyRole
    kind: PartyKind
    name: str
    id_type: identity.IdType | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None


def clean_party(raw: Mapping | PartyInput, index: int = 0) -> PartyInput:
    data = raw.__dict__ if isinstance(raw, PartyInput) else dict(raw)
    field = f"parties.{index}."
    errors: dict[str, list[str]] = {}
    try:
        role = PartyRole(data.get("role") or "applicant")
    except ValueError:
        errors[field + "role"] = ["当事人身份不正确"]
        role = PartyRole.applicant
    try:
        kind = PartyKind(data.get("kind") or "person")
    except ValueError:
        errors[field + "kind"] = ["当事人类型不正确"]
        kind = PartyKind.person
    name = (data.get("name") or "").strip()
    if not name:
        errors[field + "name"] = ["请填写当事人姓名或单位名称"]
    elif len(name) > NAME_MAX:
        errors[field + "name"] = [f"姓名或名称不超过 {NAME_MAX} 个字"]
    id_type, id_number = data.get("id_type") or None, (data.get("id_number") or "").strip() or None
    if id_number and not id_type:
        id_type = identity.IdType.resident_id if kind == PartyKind.person else identity.IdType.uscc
    if id_type:
        try:
            id_type = identity.IdType(id_type)
        except ValueError:
            errors[field + "id_type"] = ["证件类型不正确"]
            id_type = None
    if id_type and (id_type == identity.IdType.uscc) != (kind == PartyKind.organisation):
        errors[field + "id_type"] = ["单位请填写统一社会信用代码，个人请填写个人证件"]
    elif id_type and id_number:
        try:
            id_number = identity.normalize_document(id_type, id_number)
        except ValueError as exc:
            errors[field + "id_number"] = [str(exc)]
    elif id_type and not id_number:
        id_type = None
    phone = (data.get("phone") or "").strip() or None
    if phone:
        try:
            phone = identity.normalize_phone(phone)
        except ValueError as exc:
            errors[field + "phone"] = [str(exc)]
    address = (data.get("address") or "").strip() or None
    if errors:
        raise ValidationFailed(errors)
    return PartyInput(role=role, kind=kind, name=name, id_type=id_type, id_number=id_number, phone=phone,
                      address=address)


def _party_row(p: PartyInput) -> Party:
    crypto = provider()
    return Party(role=p.role, kind=p.kind, name=p.name, id_type=p.id_type,
                 id_number_enc=crypto.encrypt(p.id_number) if p.id_number else None,
                 id_index=crypto.blind_index(p.id_number) if p.id_number else None,
                 phone_enc=crypto.encrypt(p.phone) if p.phone else None,
                 phone_index=crypto.blind_index(p.phone) if p.phone else None,
                 address_enc=crypto.encrypt(p.address) if p.address else None)


def reveal(party: Party) -> dict[str, str | None]:
    """Plain personal data of a party. Callers check the reveal permission and write its audit row."""
    crypto = provider()
    return {key: crypto.decrypt(getattr(party, f"{key}_enc")) if getattr(party, f"{key}_enc") else None
            for key in ("id_number", "phone", "address")}


def district_of(unit: OrgUnit) -> OrgUnit:
    return db.session.get(OrgUnit, unit.ancestor_ids[0])


class RepeatCandidates(ValidationFailed):
    """The intake names a person with earlier cases (same document, or same name and phone about a similar
    matter) and nobody said whether it repeats one: nothing is saved. The channel shows ``candidates`` and
    sends the clerk's answer back as ``repeat_of`` — an earlier case's number, or "none"."""

    def __init__(self, candidates: list[Case]):
        numbers = "、".join(c.number for c in candidates)
        super().__init__({"repeat_of": [f"发现可能的重复件：{numbers}。请选择关联的重复事项，或确认“不是重复件”"]})
        self.candidates = candidates


def _repeat_link(actor: Actor, repeat_of: Case | str | None, district: OrgUnit) -> tuple[Case | None, str | None]:
    """(the earlier case to link, or None; an error on ``repeat_of``, or None) for the clerk's answer."""
    if repeat_of is None or repeat_of == NOT_A_REPEAT:
        return None, None
    if isinstance(repeat_of, str):
        # The same scoped read as the case page: a number outside the clerk's sight is "not found", never a hint.
        found = db.session.scalar(cases_query(actor).where(Case.number == repeat_of)) if NUMBER_RE.fullmatch(
            repeat_of) else None
    else:
        found = repeat_of if can_see(actor, repeat_of) else None
    if found is None:
        return None, "所选的重复事项不存在或不在您的辖区内"
    if found.number.split("-")[0] != district.case_prefix:
        return None, "重复事项须关联本区县的事项"
    return found, None


def _check_case_fields(kind, petition_class, category, channel, summary, people_count, risk_colour,
                       accused_unit) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind == CaseKind.petition and petition_class is None:
        errors["petition_class"] = ["信访事项须选择类别（建议意见类、检举控告类或申诉求决类）"]
    if kind == CaseKind.dispute and petition_class is not None:
        errors["petition_class"] = ["矛盾纠纷不设信访类别"]
    if accused_unit is not None and petition_class != PetitionClass.accusation:
        errors["accused_unit_id"] = ["只有检举控告类信访事项可以登记被检举控告单位"]
    if category not in categories():
        errors["category"] = ["请从列表中选择事项类别"]
    if not (summary or "").strip():
        errors["summary"] = ["请填写事项概要"]
    if isinstance(people_count, bool) or not isinstance(people_count, int) or people_count < 1:
        errors["people_count"] = ["涉及人数须为正整数"]
    for name, enum_cls, value in (("channel", CaseChannel, channel), ("risk_colour", RiskColour, risk_colour)):
        try:
            enum_cls(value)
        except ValueError:
            errors[name] = ["请从列表中选择"]
    return errors


def register_case(actor: Actor, **fields) -> Case:
    """``file_case`` for callers that do not need to know whether the case was new (see there)."""
    return file_case(actor, **fields)[0]


def file_case(actor: Actor, *, kind: CaseKind | str, summary: str, category: str, channel: CaseChannel | str,
              origin_unit: OrgUnit, handling_unit: OrgUnit | None = None, parties: Iterable = (),
              petition_class: PetitionClass | str | None = None, demands: str | None = None,
              people_count: int = 1, risk_colour: RiskColour | str = RiskColour.yellow,
              accused_unit: OrgUnit | None = None, repeat_of: Case | str | None = None,
              xinfang_no: str | None = None, hotline_ticket: str | None = None,
              court_case_no: str | None = None, received_at: datetime | None = None,
              note: str | None = None, occurred_on: date | None = None,
              intake_key: str | None = None) -> tuple[Case, bool]:
    """Register a case: its number, parties (personal data encrypted), first CaseEvent, the statutory
    deadlines that start at registration and the audit row. Returns (case, created).

    Every rule of intake is here, so the form, the API, the phone pages and scripts get the same decision:
    - no intake right at all → 403; a unit the actor may not file at (``units.origin_refusal``) or route to
      (``units.intake_handling_refusal``) → a field error on ``origin_unit_id`` / ``handling_unit_id``;
    - ``intake_key`` makes the intake idempotent: a second call with the key of a case the same user filed
      returns (that case, False) unchanged; the key of another user's case is refused (``intake_key``);
    - repeats (重复信访): ``repeat_of`` is the clerk's answer — an earlier case (or its number) to link, or
      ``"none"``; unanswered (None) while ``find_repeat_candidates`` finds earlier cases of the same person,
      nothing is saved and ``RepeatCandidates`` (422 on ``repeat_of``) names them for the clerk to answer.
    ``received_at`` pins the time of receipt; ``occurred_on`` is when the matter happened (never in the future)."""
    if not has_permission(actor, units.INTAKE):
        raise PermissionDenied(action=units.INTAKE)
    if actor.user_id is not None:  # every channel's intake counts against the person's limit (core.ratelimit)
        from core import ratelimit

        ratelimit.hit("intake.account", str(actor.user_id), session=db.session)
    if intake_key and isinstance(intake_key, str) and len(intake_key) <= INTAKE_KEY_MAX:
        # Two submits of one offline-kept form racing: the second waits for the first and then finds its case
        # (PostgreSQL: a transaction lock on the key; SQLite: writes are serialised by BEGIN IMMEDIATE).
        xact_lock(f"intake:{intake_key}")
    existing = case_for_intake_key(actor, intake_key)
    if existing is not None:
        return existing, False
    try:
        kind = CaseKind(kind)
    except ValueError:
        raise ValidationFailed({"kind": ["事项类型须为矛盾纠纷或信访事项"]}) from None
    try:
        petition_class = PetitionClass(petition_class) if petition_class else None
    except ValueError:
        raise ValidationFailed({"petition_class": ["信访类别不正确"]}) from None
    errors = _check_case_fields(kind, petition_class, category, channel, summary, people_count, risk_colour,
                                accused_unit)
    refusal = units.origin_refusal(actor, origin_unit)
    if refusal:
        errors["origin_unit_id"] = [refusal]
    if accused_unit is not None and "accused_unit_id" not in errors:
        refusal = units.accused_refusal(origin_unit, accused_unit)
        if refusal:
            errors["accused_unit_id"] = [refusal]
    cleaned: list[PartyInput] = []
    for index, raw in enumerate(parties):
        try:
            cleaned.append(clean_party(raw, index))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if not any(p.role == PartyRole.applicant for p in cleaned) and "parties.0.name" not in errors:
        errors.setdefault("parties", ["请至少登记一名申请人"])
    received_at = received_at or utcnow()
    if received_at > utcnow() + timedelta(minutes=5):
        errors["received_at"] = ["登记时间不能晚于当前时间"]
    if occurred_on is not None and (not isinstance(occurred_on, date) or isinstance(occurred_on, datetime)):
        errors["occurred_on"] = ["请填写有效的发生日期"]
    elif occurred_on is not None and occurred_on > shanghai_date(utcnow()):
        errors["occurred_on"] = ["发生日期不能晚于今天"]
    elif occurred_on is not None and occurred_on.year < 1900:
        errors["occurred_on"] = ["发生日期不能早于 1900 年"]
    if handling_unit is not None:
        refusal = units.intake_handling_refusal(actor, kind, origin_unit, handling_unit, accused_unit)
        if refusal:
            errors["handling_unit_id"] = [refusal]
    else:
        handling_unit = default_handling_unit(kind, origin_unit, accused_unit)
    district = district_of(origin_unit)
    earlier, refusal = _repeat_link(actor, repeat_of, district)
    if refusal:
        errors["repeat_of"] = [refusal]
    if errors:
        raise ValidationFailed(errors)
    if repeat_of is None:
        # Asked only once everything else is right: the clerk answers about a case that can then be saved.
        candidates = find_repeat_candidates(actor, cleaned, district=district, summary=summary)
        if candidates:
            raise RepeatCandidates(candidates)
    if earlier is not None and note is None:
        note = f"重复件，关联 {earlier.number}"

    case = Case(number=next_number(district, shanghai_date(received_at).year), kind=kind,
                petition_class=petition_class, category=category, channel=CaseChannel(channel),
                summary=summary.strip(), demands=(demands or "").strip() or None, people_count=people_count,
                risk_colour=RiskColour(risk_colour), status=CaseStatus.registered, received_at=received_at,
                origin_unit=origin_unit, handling_unit=handling_unit, accused_unit=accused_unit,
                filed_by_user_id=actor.user_id, repeat_of=earlier, xinfang_no=xinfang_no,
                hotline_ticket=hotline_ticket, court_case_no=court_case_no, occurred_on=occurred_on,
                intake_key=intake_key or None)
    case.parties = [_party_row(p) for p in cleaned]
    db.session.add(case)
    start_deadlines(case, "register", received_at)
    changed = [f for f in CASE_FIELDS if f != "parties" and getattr(case, f) is not None]
    changed += ["parties"] if cleaned else []
    timeline.log(case, "register", actor=actor, at=received_at, note=note, changed=changed, audit="case.registered",
                 from_status=None, to_status=CaseStatus.registered)
    from center.cases.routing.notices import notify_registered_elsewhere

    notify_registered_elsewhere(case, actor)
    logger.info("case %s registered by %s", case.number, actor)
    return case, True


def case_for_intake_key(actor: Actor, intake_key: str | None) -> Case | None:
    """The case an earlier submit with this idempotency key made, if the same user filed it; a key another
    user's case holds is refused (keys are random per form: a clash is a replay, not a coincidence)."""
    if intake_key is None or intake_key == "":
        return None
    if not isinstance(intake_key, str) or len(intake_key) > INTAKE_KEY_MAX:
        raise ValidationFailed({"intake_key": [f"登记标识不能超过 {INTAKE_KEY_MAX} 个字符"]})
    case = db.session.scalar(select(Case).where(Case.intake_key == intake_key))
    if case is None:
        return None
    # The same person through a token scoped elsewhere is not shown the case either: a replay answers only
    # within the sight that filed it.
    if case.filed_by_user_id != actor.user_id or not can_see(actor, case):
        raise ValidationFailed({"intake_key": ["该登记标识已被使用，请刷新登记页面后重新填写"]})
    return case


def find_repeat_candidates(actor: Actor, parties: Iterable, *, district: OrgUnit, now: datetime | None = None,
                           exclude: Case | None = None, summary: str | None = None,
                           threshold: float | None = None) -> list[Case]:
    """Earlier cases of the same district, received in the last 12 months, with a party of the same document
    number, or the same name and phone (blind indexes: no plaintext compared), among the cases the actor may
    see (jurisdiction and the 检举控告 rule). The caller shows the candidates to the clerk and links ``repeat_of``.

    With ``summary`` (the intake always gives it), a name + phone match counts only when the earlier case is
    about a similar matter (center.cases.intake.similarity; ``threshold`` overrides the configured one); a document
    number match counts whatever the matter."""
    from center.cases.intake.similarity import is_similar

    crypto = provider()
    id_indexes, name_phone = set(), set()
    for index, raw in enumerate(parties):
        p = clean_party(raw, index)
        if p.id_number:
            id_indexes.add(crypto.blind_index(p.id_number))
        if p.phone:
            name_phone.add((p.name, crypto.blind_index(p.phone)))
    if not id_indexes and not name_phone:
        return []
    match = [Party.id_index.in_(sorted(id_indexes))] if id_indexes else []
    match += [(Party.name == name) & (Party.phone_index == phone) for name, phone in sorted(name_phone)]
    since = (now or utcnow()) - REPEAT_WINDOW
    # Only cases the clerk may see: intake must not become a way to look a person up across the district
    # (cases_query applies the jurisdiction and the 检举控告 rule).
    stmt = (cases_query(actor).where(Case.id.in_(select(Party.case_id).where(or_(*match))),
                                     Case.received_at >= since, Case.number.startswith(f"{district.case_prefix}-"))
            .order_by(Case.received_at.desc()).limit(REPEAT_SCAN))
    if exclude is not None:
        stmt = stmt.where(Case.id != exclude.id)
    found = list(db.session.scalars(stmt))
    if summary is not None:
        found = [c for c in found if any(p.id_index in id_indexes for p in c.parties if p.id_index)
                 or is_similar(summary, c.summary, threshold)]
    return found[:REPEAT_SHOWN]
