"""Cases of the D1 district: where they come from, who files and handles them, and the helpers every step
uses — a transition checked against the project's state machine (``transition_for``), the timeline entry with
its audit row (what ``core.work.timeline.log`` writes), formal documents from the project's templates.

Times are naive Asia/Shanghai while generating (office hours, weekends) and stored as UTC (``writer.utc``). A
case's steps happen one after another at drawn delays; the first step that would fall after "now" ends the
case where it stands (``NotYet``), so recent cases are the open ones, as on a real desk.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from bench.d1 import names, steps
from bench.d1.clock import NotYet
from bench.d1.weighted import Weighted
from bench.d1.writer import utc
from center.cases.documents import texts as templates
from center.cases.documents.facts import DOC_NO_PREFIX
from center.cases.documents.operations import organ_name_for, upper_organ_name
from center.cases.intake.numbering import format_number
from center.cases.intake.operations import CASE_FIELDS
from center.cases.lifecycle.operations import transition_for
from center.cases.listing import terms
from center.cases.models import CaseKind
from center.cases.routing.units import accused_refusal, default_handling_unit
from core.accounts.models import Role

R = Role
OFFICE_START = 8 * 60 + 30  # minutes after midnight
CHANNELS = {
    "grid": (("grid_agent", 6), ("grid_report", 4)),
    "village": (("visit", 6), ("phone", 2), ("screening", 2)),
    "township": (("visit", 5), ("letter", 1), ("phone", 2), ("hotline", 2), ("online", 1), ("reception", 1)),
    "district": (("visit", 4), ("letter", 2), ("online", 2), ("hotline", 2), ("reception", 1), ("video", 1)),
}
PETITION_CLASSES = (("appeal", 70), ("suggestion", 18), ("accusation", 12))
COLOURS = (("blue", 34), ("yellow", 46), ("orange", 15), ("red", 5))


def _weighted(pairs) -> Weighted:
    values, weights = zip(*pairs, strict=True)
    return Weighted(values, weights)


class CaseState:
    """What a step needs to know about its case (the row itself is ``row``)."""

    __slots__ = ("id", "subject_id", "kind", "pclass", "status", "handling_unit", "handling_department", "origin",
                 "accused", "township", "village", "grid", "deadlines", "done_on", "row", "applicants", "detailed",
                 "colour", "assignments", "received", "served_on", "answered_at", "visits")

    def holder(self) -> tuple[int, int | None]:
        return self.handling_unit.id, (self.handling_department.id if self.handling_department else None)


class District:
    def __init__(self, rows, org, rng, people, clock, *, now: datetime, years: int = 4):
        self.rows, self.org, self.rng, self.people, self.clock = rows, org, rng, people, clock
        self.now, self.start = now, now - timedelta(days=round(365.25 * years))
        self.sequence: dict[int, int] = {}  # year → last case number
        self.doc_numbers: dict[tuple, int] = {}
        self.recent_petitioners: list[tuple] = []  # (person, case id, received) for repeats
        self.counts = {"repeats": 0, "accusations": 0}
        #: (local time, order, row) of the case being built: written in time order (``flush_record``)
        self.pending_events: list[tuple] = []
        self.pending_audits: list[tuple] = []
        rng_t = rng.random
        # Busier townships: the county seat's 街道 and a few large towns carry most of the work.
        busy = {"城关街道": 3.0, "青石镇": 2.4, "东湖街道": 2.0, "西城街道": 1.8, "马坊镇": 1.5}
        self.pick_township = Weighted(org.townships, [busy.get(t.name, 0.5 + rng_t()) for t in org.townships])
        self.pick_village = {t.id: Weighted(org.villages[t.id], [rng.lognormvariate(0, 0.6) for _ in org.villages[t.id]])
                             for t in org.townships}
        self.channels = {tier: _weighted(pairs) for tier, pairs in CHANNELS.items()}
        self.categories = {"dispute": _weighted(names.DISPUTE_WEIGHTS.items()),
                           "petition": _weighted(names.PETITION_WEIGHTS.items())}
        self.pclasses, self.colours = _weighted(PETITION_CLASSES), _weighted(COLOURS)

    # --- time -----------------------------------------------------------------------------------------------

    def received_times(self, n: int) -> list[datetime]:
        """n intake times over the years: +12 % a year, a peak before the Spring Festival (欠薪) and in summer,
        fewer at weekends, office hours mostly."""
        rng, days = self.rng, (self.now - self.start).days
        weights = []
        for d in range(days + 1):
            day = self.start + timedelta(days=d)
            w = 1.0 + 0.12 * d / 365
            w *= 1.35 if day.month in (1, 12) else 1.15 if day.month in (6, 7, 8) else 1.0
            weights.append(w * (0.35 if day.weekday() >= 5 else 1.0))
        picked = rng.choices(range(days + 1), weights=weights, k=n)
        out = []
        for d in picked:
            minute = OFFICE_START + int(rng.triangular(0, 570, 120)) if rng.random() < 0.9 else rng.randrange(1440)
            at = datetime.combine((self.start + timedelta(days=d)).date(), datetime.min.time()) + timedelta(
                minutes=minute, seconds=rng.randrange(60))
            out.append(min(at, self.now - timedelta(minutes=rng.randint(1, 600))))
        out.sort()
        return out

    def after(self, prev: datetime, days: float, *, office: bool = True) -> datetime:
        """``days`` after ``prev``, moved into office hours (and mostly off weekends); NotYet after now."""
        rng = self.rng
        t = prev + timedelta(days=days)
        if office:
            minute = t.hour * 60 + t.minute
            if minute < OFFICE_START or minute >= OFFICE_START + 9 * 60:
                day = t.date() if minute < OFFICE_START else t.date() + timedelta(days=1)
                t = datetime.combine(day, datetime.min.time()) + timedelta(minutes=OFFICE_START + rng.randrange(240))
            if t.weekday() >= 5 and rng.random() < 0.85:
                t += timedelta(days=7 - t.weekday())
        if t <= prev:
            t = prev + timedelta(minutes=rng.randint(5, 90))
        if t > self.now:
            raise NotYet
        return t

    # --- people at work -------------------------------------------------------------------------------------

    def staff(self, unit) -> int:
        """Who works a case at ``unit`` (a department: its liaison)."""
        o = self.org
        if not hasattr(unit, "tier"):
            return o.department_users[unit.id]["liaison"]
        if unit.tier == "village":
            return self.rng.choice(o.holders(unit.id, R.village_cadre) + o.holders(unit.id, R.village_head))
        roles = (R.center_staff,) if unit.tier == "district" else (R.township_staff, R.township_staff, R.center_staff)
        return self.rng.choice([u for r in roles for u in o.holders(unit.id, r)])

    def triager(self, unit) -> int:
        """Who accepts, hands down and refers (a village: its head; village cadres do not triage)."""
        if hasattr(unit, "tier") and unit.tier == "village":
            return self.org.holders(unit.id, R.village_head)[0]
        return self.staff(unit)

    def leader(self, unit) -> int:
        """The organ's leader: approves documents and outcomes, closes."""
        o = self.org
        if not hasattr(unit, "tier"):
            return o.department_users[unit.id]["head"]
        role = {"district": R.district_leader, "township": R.township_leader, "village": R.village_head}[unit.tier]
        return self.rng.choice(o.holders(unit.id, role))

    @staticmethod
    def noon(day) -> datetime:
        return datetime.combine(day, datetime.min.time()).replace(hour=12)

    def organ(self, case):
        return case.handling_department or case.handling_unit

    # --- the record -------------------------------------------------------------------------------------------

    def audit(self, actor: int | None, at: datetime, action: str, unit_id, obj: tuple[str, int], changed,
              channel: str = "web") -> None:
        rng = self.rng
        ip = None if actor is None else f"10.20.{actor // 250 % 250}.{actor % 250 + 1}"
        self.pending_audits.append((at, len(self.pending_audits), dict(
            at=utc(at), actor_user_id=actor, actor_name=self.org.usernames[actor] if actor is not None else "system:job",
            unit_id=unit_id, action=action, object_type=obj[0], object_id=str(obj[1]), result="ok", ip=ip,
            request_id=f"{rng.getrandbits(128):032x}", channel="job" if actor is None else channel,
            changed_fields=sorted(set(changed)))))

    def log(self, case: CaseState, action: str, actor: int | None, at: datetime, *, note=None, changed=(),
            from_status=None, to_status=None, audit: str | bool | None = None, obj=None, audit_changed=None,
            channel: str = "web") -> None:
        """The event and its audit row, as core.work.timeline.log writes them (``audit=False``: the caller
        writes the audit row, as document steps do)."""
        self.pending_events.append((at, len(self.pending_events), dict(
            case_id=case.id, subject_id=case.subject_id, actor_user_id=actor, at=utc(at), action=action,
            from_status=from_status, to_status=to_status, note=note, changed_fields=list(changed))))
        if audit is not False:
            self.audit(actor, at, audit or f"case.{action}", case.handling_unit.id, obj or ("cases", case.id),
                       changed if audit_changed is None else audit_changed, channel)

    def transition(self, case: CaseState, action: str, actor: int | None, at: datetime, *, note=None, unit=None,
                   department=None) -> None:
        """center.cases.lifecycle.operations.transition's effect on the rows (its checks were made by choosing
        only allowed steps; the state machine is asserted here)."""
        spec = transition_for(CaseKind(case.kind), action)
        assert spec is not None and case.status in spec.sources, (case.kind, case.status, action)
        changed, from_status = ["status"], case.status
        case.status = spec.target.value
        if unit is not None:
            case.handling_unit = unit
            changed.append("handling_unit_id")
        if action in ("transfer", "return"):
            case.handling_department = department
            changed.append("handling_department_id")
            note = f"转送{department.name}" + (f"：{note}" if note else "") if department is not None else note
        self.clock.meet_for(case, action, at)
        if self.clock.move(case, action, at) + self.clock.start_for(case, action, at):
            changed.append("deadlines")
        self.log(case, action, actor, at, note=note, changed=changed, from_status=from_status,
                 to_status=case.status, channel="job" if actor is None else "web")

    def document(self, case: CaseState, kind: str, drafter: int, approver: int | None, at: datetime, *,
                 approved_at: datetime | None = None, reason: str = "", days: int = 0, old_due=None,
                 new_due=None) -> dict:
        """A formal document in the organ's name from the project's template (an answer with every demand
        answered, so it would pass ``content_problems``), numbered per organ, kind and year."""
        unit, department = case.handling_unit, case.handling_department
        organ = organ_name_for(unit, department)
        year = at.year
        key = (unit.id, department.id if department else None, kind, year)
        self.doc_numbers[key] = number = self.doc_numbers.get(key, 0) + 1
        short = (department.name if department else unit.name).removeprefix("区")
        for suffix in ("街道", "社区", "镇", "乡", "村", "局", "委员会"):
            if short.endswith(suffix) and len(short) > len(suffix):
                short = short[: -len(suffix)]
                break
        doc_no = f"{short[:4]}{'' if '信' in short else '信'}{DOC_NO_PREFIX.get(kind, '')}〔{year}〕第{number}号"
        facts = templates.DocFacts(organ_name=organ, doc_no=doc_no, petitioner="、".join(case.applicants),
                                   received_on=case.received.date(), number=case.row["number"],
                                   summary=case.row["summary"], demands=templates.split_demands(case.row["demands"]),
                                   upper_organ=upper_organ_name(unit, department), issued_on=at.date(),
                                   reason=reason, days=days, old_due_on=old_due, new_due_on=new_due)
        if kind == "answer":
            title, body = templates.answer(facts, petition=case.kind == "petition")
            body = body.replace(templates.ANSWER_PLACEHOLDER, self.rng.choice(names.ANSWER_TEXT))
        else:
            title, body = getattr(templates, kind)(facts)
        approved_at = approved_at if approver is not None else None
        return self.rows.add("case_documents", case_id=case.id, kind=kind, organ_unit_id=unit.id,
                             organ_department_id=department.id if department else None, organ_name=organ,
                             doc_no=doc_no, title=title, body=body, drafter_user_id=drafter,
                             approved_by_user_id=approver, approved_at=utc(approved_at), superseded=False,
                             created_at=utc(at), updated_at=utc(approved_at or at))

    # --- a new case -------------------------------------------------------------------------------------------

    def _origin(self, kind: str, township, village):
        """(origin unit, filer, channel tier)."""
        rng, o = self.rng, self.org
        r = rng.random()
        if kind == "dispute":
            if r < 0.35:
                grid = rng.choice(o.grids[village.id])
                return grid, o.holders(grid.id, R.grid_worker)[0], "grid"
            if r < 0.80:
                return village, self.staff(village), "village"
            if r < 0.97:
                return township, self.staff(township), "township"
            return o.district, self.staff(o.district), "district"
        if r < 0.22:
            return village, self.staff(village), "village"
        if r < 0.70:
            return township, self.staff(township), "township"
        return o.district, self.staff(o.district), "district"

    def new_case(self, received: datetime) -> CaseState:
        rng, o = self.rng, self.org
        township = self.pick_township(rng)
        village = self.pick_village[township.id](rng)
        kind = "dispute" if rng.random() < 0.6 else "petition"
        pclass = self.pclasses(rng) if kind == "petition" else None
        origin, filer, tier = self._origin(kind, township, village)
        accused = None
        if pclass == "accusation":
            accused = township if rng.random() < 0.15 else (village if origin is village else
                                                            rng.choice(o.villages[township.id]))
            assert accused_refusal(origin, accused) is None
            self.counts["accusations"] += 1
        handling = default_handling_unit(CaseKind(kind), origin, accused)
        colour = self.colours(rng)
        if kind == "dispute" and handling.tier == "village" and colour == "red" and rng.random() < 0.7:
            handling = township  # a complex dispute goes to the township center at intake
        category = self.categories[kind](rng)
        summary = rng.choice(names.SUMMARIES[category]).format(v=village.name, n=rng.randint(2, 40))
        people = 1 if rng.random() < 0.8 else rng.randint(2, 4) if rng.random() < 0.75 else rng.randint(5, 60)
        year = received.year
        self.sequence[year] = seq = self.sequence.get(year, 0) + 1
        case = CaseState()
        case.id = self.rows.new_id("cases")
        case.subject_id = self.rows.new_id("work_subjects")
        case.kind, case.pclass, case.status, case.colour = kind, pclass, "registered", colour
        case.origin, case.handling_unit, case.handling_department, case.accused = origin, handling, None, accused
        case.township, case.village = township, village
        case.grid = origin if origin.tier == "grid" else None
        case.deadlines, case.done_on, case.assignments, case.applicants = [], None, [], []
        case.served_on = case.answered_at = None
        case.visits = 0
        case.detailed = rng.random() < 0.05  # every step of documents and mediation on the timeline
        channel = self.channels[tier](rng)
        at = utc(received)
        case.row = self.rows.add(
            "cases", id=case.id, subject_id=case.subject_id, number=format_number(o.district.case_prefix, year, seq),
            kind=kind, petition_class=pclass, category=category, channel=channel, summary=summary,
            demands=rng.choice(names.DEMANDS[kind]), people_count=people, risk_colour=colour, status="registered",
            occurred_on=(received - timedelta(days=rng.randint(0, 60))).date() if rng.random() < 0.7 else None,
            received_at=at, origin_unit_id=origin.id, handling_unit_id=handling.id, accused_unit_id=accused.id
            if accused else None, filed_by_user_id=filer, xinfang_no=f"XF{year}{rng.randrange(10**8):08d}"
            if kind == "petition" and rng.random() < 0.3 else None, hotline_ticket=f"12345-{year}-{seq:07d}"
            if channel == "hotline" else None, created_at=at, updated_at=at)
        self.rows.add("work_subjects", id=case.subject_id, kind="case", created_at=at)
        case.received = received
        note = self._parties(case, received)
        self.clock.start_for(case, "register", received)
        changed = [f for f in CASE_FIELDS if f != "parties" and case.row.get(f) is not None] + ["parties"]
        self.log(case, "register", filer, received, changed=changed, to_status="registered",
                 audit="case.registered", note=note)
        return case

    def _parties(self, case: CaseState, received: datetime) -> str | None:
        """The parties' rows; the register event's note (a repeat names the earlier case, as intake does)."""
        rng, people = self.rng, self.people
        applicant, note = None, None
        if case.kind == "petition" and self.recent_petitioners and rng.random() < 0.18:
            person, earlier_id, earlier_number, when = rng.choice(self.recent_petitioners[-2000:])
            if (received - when).days <= 365:  # 重复信访: the same person about the same matter again
                applicant = person
                case.row["repeat_of_case_id"] = earlier_id
                note = f"重复件，关联 {earlier_number}"
                self.counts["repeats"] += 1
        applicant = applicant or people.person(case.township, case.village)
        people.party_row(self.rows, case.id, "applicant", applicant, utc(received))
        case.applicants.append(applicant.name)
        respondents: list[str] = []
        if case.kind == "petition":
            self.recent_petitioners.append((applicant, case.id, case.row["number"], received))
            if len(self.recent_petitioners) > 20000:
                del self.recent_petitioners[:10000]
            if case.row["people_count"] >= 5 and rng.random() < 0.5:  # a collective visit names a second person
                second = people.person(case.township, case.village)
                people.party_row(self.rows, case.id, "applicant", second, utc(received))
                case.applicants.append(second.name)
        else:
            business = case.row["category"] in ("劳资/欠薪", "涉房/物业", "涉企", "合同债务", "环境污染")
            other = people.organisation() if business and rng.random() < 0.6 else people.person(case.township,
                                                                                                 case.village)
            people.party_row(self.rows, case.id, "respondent", other, utc(received))
            respondents.append(other.name)
        # the search grams, as center.cases.listing.terms keeps them for every case the app writes (every
        # party's name in the order of their rows: the applicants, then the respondent)
        self.rows.add("case_terms", case_id=case.id,
                      **terms.document(case.row["summary"], [*case.applicants, *respondents]))
        return note

    def build(self, received: datetime) -> CaseState:
        case = self.new_case(received)
        with contextlib.suppress(NotYet):  # the case stands where "now" found it
            (steps.dispute if case.kind == "dispute" else steps.petition)(self, case, received)
        steps.finish(self, case)
        return case

    def flush_record(self, case: CaseState) -> None:
        """The case row's final state, then its events and audit rows in time order."""
        row = case.row
        row["status"], row["handling_unit_id"] = case.status, case.handling_unit.id
        row["handling_department_id"] = case.handling_department.id if case.handling_department else None
        last = max(e[0] for e in self.pending_events)
        row["updated_at"] = utc(last)
        for _at, _n, values in sorted(self.pending_events, key=lambda e: (e[0], e[1])):
            self.rows.add("case_events", **values)
        for _at, _n, values in sorted(self.pending_audits, key=lambda e: (e[0], e[1])):
            self.rows.add("audit_entries", **values)
        self.pending_events.clear()
        self.pending_audits.clear()

    def last_at(self) -> datetime:
        return max(e[0] for e in self.pending_events)
