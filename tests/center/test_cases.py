"""The case registry kernel on the demo district: intake, numbering (also under two concurrent writers),
the transition table, permissions, hand-down rules, the statutory clock on real holiday data, repeat
detection, jurisdiction (including the 检举控告 rule) and encryption at rest."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from center.cases.intake.operations import find_repeat_candidates, reveal
from center.cases.lifecycle import operations as lifecycle
from center.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Deadline, Party
from center.cases.queries import can_see, cases_query, get_case_by_number_or_404, get_case_or_404
from core.actor import Actor
from core.audit.models import AuditEntry
from core.db import utcnow
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.center.test_identity import make_resident_id
from tests.conftest import make_app
from tests.factories import case_maker

SH = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 9, 20, 10, 0, tzinfo=SH).astimezone(UTC)  # a Sunday, a 调休 working day before 国庆
ID_A = make_resident_id("500112", "19700315", "031")
ID_B = make_resident_id("500112", "19820704", "152")
NUMBER_RE = re.compile(r"SF-2026-[0-9]{6}")


def person(name="王𠮷", id_number=ID_A, phone="13812345678", address="青石镇青石村三组 12 号", **kw):
    return {"role": "applicant", "kind": "person", "name": name, "id_number": id_number, "phone": phone,
            "address": address, **kw}


# A dispute a 青石镇 clerk registered at 青石村 at AT, the applicant ``person()`` (the same person on purpose:
# the repeat question is answered "none", as a clerk would).
new_case = case_maker(origin="青石村", summary="邻居建房占用通道，协商未果", category="邻里纠纷", applicant=person(),
                      at=AT, repeat_of="none")


# --- intake ---------------------------------------------------------------------------------------------------

def test_register_numbers_the_case_and_writes_event_deadlines_and_audit(db, demo):
    case = new_case(demo, kind="petition", people_count=6, xinfang_no="5001122026092000001")
    other = new_case(demo)
    assert NUMBER_RE.fullmatch(case.number) and NUMBER_RE.fullmatch(other.number)
    assert int(other.number[-6:]) == int(case.number[-6:]) + 1
    assert case.status == CaseStatus.registered and case.is_collective and not other.is_collective
    assert case.handling_unit.name == "青石镇"  # a petition is never handled by a village
    assert other.handling_unit.name == "青石村"
    [event] = case.events
    assert (event.action, event.from_status, event.to_status) == ("register", None, CaseStatus.registered)
    assert "parties" in event.changed_fields and ID_A not in str(event.changed_fields)
    assert sorted(d.rule for d in case.deadlines) == ["notice", "transfer"]
    # a dispute gets its 受理 clock at once (3 working days), held by the village that handles it
    [accept_by] = other.deadlines
    assert (accept_by.rule, accept_by.kind, accept_by.responsible_unit_id) == (
        "dispute_accept", "duty", other.handling_unit_id)
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.registered",
                                                       AuditEntry.object_id == str(case.id)))
    assert audit.actor_name == "qs.staff" and audit.unit_id == case.handling_unit_id


def test_petition_deadline_landing_in_national_day_moves_to_the_first_working_day(db, demo):
    case = new_case(demo, kind="petition")
    for row in case.deadlines:
        # 2026-09-20 + 15 days = 10-05, inside the 国庆 holiday (10-01 … 10-07): the deadline is 10-08.
        assert (row.started_on, row.due_on, row.provisional) == (date(2026, 9, 20), date(2026, 10, 8), False)
    accepted_at = datetime(2026, 12, 20, 9, 0, tzinfo=SH)
    lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"), at=accepted_at)
    rules = {d.rule: d for d in case.deadlines}
    # 受理 decides the transfer step; the 受理告知 waits for the issued 受理告知书.
    assert rules["transfer"].met_at == accepted_at and rules["notice"].met_at is None
    # 60 days after 2026-12-20 is 2027-02-18: 2027 has no published table yet, so the deadline is 暂定.
    assert (rules["answer"].due_on, rules["answer"].provisional, rules["answer"].met_at) == (
        date(2027, 2, 18), True, None)


@pytest.mark.parametrize(("changes", "field"), [
    ({"parties": [person(id_number=ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"))]}, "parties.0.id_number"),
    ({"parties": [person(phone="1234")]}, "parties.0.phone"),
    ({"parties": [person(kind="organisation", id_number="91350100M000100Y44")]}, "parties.0.id_number"),
    ({"parties": [person(id_type="uscc", id_number="91350100M000100Y43")]}, "parties.0.id_type"),
    ({"parties": [person(name=" ")]}, "parties.0.name"),
    ({"parties": []}, "parties"),
    ({"kind": "petition", "petition_class": None}, "petition_class"),
    ({"petition_class": "appeal"}, "petition_class"),
    ({"category": "外星人"}, "category"),
    ({"people_count": 0}, "people_count"),
    ({"channel": "pigeon"}, "channel"),
    ({"accused_unit": "青石镇"}, "accused_unit_id"),
    ({"kind": "petition", "handling": "上坝村"}, "handling_unit_id"),
    # another township is neither the clerk's nor above the origin: the district routes between townships
    ({"handling": "柳河镇"}, "handling_unit_id"),
    ({"handling": "青石镇"}, None),  # the unit above the origin, where a grid's or village's case may go
    ({"at": datetime.now(UTC) + timedelta(days=2)}, "received_at"),
])
def test_bad_intake_is_refused_with_chinese_messages_and_changes_nothing(db, demo, changes, field):
    kw = dict(changes)
    if isinstance(kw.get("accused_unit"), str):
        kw["accused_unit"] = demo.unit(kw["accused_unit"])
    before = db.session.scalar(select(text("count(*)")).select_from(Case))
    if field is None:
        new_case(demo, **kw)
        return
    with pytest.raises(ValidationFailed) as exc:
        new_case(demo, **kw)
    assert field in exc.value.errors
    assert all(re.search(r"[\u4e00-\u9fff]", m) for ms in exc.value.errors.values() for m in ms)
    assert db.session.scalar(select(text("count(*)")).select_from(Case)) == before


def test_intake_needs_case_intake_over_the_origin_unit(db, demo):
    with pytest.raises(ValidationFailed) as outside:  # an intake right, but not there: a field error
        new_case(demo, "qs01.cadre", origin="上坝村")
    assert outside.value.errors == {"origin_unit_id": ["请从列表中选择本辖区内的登记单位"]}
    with pytest.raises(PermissionDenied):  # no intake right at all
        new_case(demo, "xinfang.liaison", origin="青石村")  # a liaison does not register cases
    assert new_case(demo, "qs01.g1", origin="青石村第1网格").handling_unit.name == "青石村"


def test_personal_data_is_encrypted_at_rest_and_names_keep_rare_characters(db, demo):
    case = new_case(demo, parties=[person(name="王𠮷𡘙", address="青石村 𠀀 巷 3 号")])
    rows = db.session.execute(text("SELECT * FROM case_parties WHERE case_id = :c"), {"c": case.id}).mappings().all()
    raw = " ".join(str(v) for v in rows[0].values())
    for secret in (ID_A, ID_A[-4:] + "", "13812345678", "𠀀 巷"):
        assert secret not in raw
    assert rows[0]["name"] == "王𠮷𡘙"
    assert reveal(case.parties[0]) == {"id_number": ID_A, "phone": "13812345678", "address": "青石村 𠀀 巷 3 号"}
    events = db.session.execute(text("SELECT changed_fields, note FROM case_events WHERE case_id = :c"),
                                {"c": case.id}).all()
    assert ID_A not in str(events) and "13812345678" not in str(events)


# --- numbering --------------------------------------------------------------------------------------------------

def test_numbers_stay_unique_under_two_concurrent_writers(fresh_url):
    from center.cases.intake.numbering import next_sequence
    from core.db import db, write_intent

    application = make_app(fresh_url)
    with application.app_context():
        district_id = db.session.execute(text("SELECT id FROM org_units WHERE case_prefix = 'SF'")).scalar()
        db.session.remove()
    year, per_thread, barrier = 2031, 15, threading.Barrier(2)
    results: dict[int, list[int]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def writer(slot):
        try:
            with application.app_context():
                for i in range(per_thread):
                    if i == 0:
                        barrier.wait(timeout=30)  # both race to create the year's counter row
                    with write_intent():
                        results[slot].append(next_sequence(district_id, year))
                        threading.Event().wait(0.002)  # hold the row a moment: the other writer must wait
                        db.session.commit()
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        issued = results[0] + results[1]
        assert sorted(issued) == list(range(1, 2 * per_thread + 1))
        assert results[0] == sorted(results[0]) and results[1] == sorted(results[1])
    finally:
        with application.app_context():
            db.engine.dispose()


# --- the transition table ----------------------------------------------------------------------------------------

RENSHE = "区人社局（劳动人事争议仲裁院）"


def _context(demo, t: lifecycle.Transition, kind: CaseKind):
    """(case setup kwargs, username, unit) that make transition ``t`` legal for the actor."""
    if t.action == "hand_down" and kind == CaseKind.petition:
        return {"handling": "示范区"}, "center.li", demo.unit("青石镇")
    if t.action == "transfer":
        return {"handling": "示范区"}, "center.li", None
    if t.action == "return":
        return {"handling": "示范区"}, "renshe.liaison", None
    user = {lifecycle.APPROVE: "qs.leader", lifecycle.EVALUATE: "qs.staff"}.get(t.permission, "qs.staff")
    unit = demo.unit("上坝村") if t.action == "hand_down" else None
    return {"handling": "青石镇"}, user, unit


#: Free transitions: 评价 and 终结 follow their records (tests/center/test_authority_regressions.py).
ALLOWED = [(t, kind, source) for t in lifecycle.TRANSITIONS for kind in sorted(t.kinds)
           for source in sorted(t.sources) if not t.by_record]


@pytest.mark.parametrize(("t", "kind", "source"), ALLOWED,
                         ids=[f"{k}-{s}-{t.action}" for t, k, s in ALLOWED])
def test_every_allowed_transition(db, demo, t, kind, source):
    setup, username, unit = _context(demo, t, kind)
    case = new_case(demo, kind=kind.value, **setup)
    case.status = source
    extra = {"consent": {"applicant", "respondent"}} if t.action == "refer_mediation" else {}
    note = "依据规定办理"
    if t.action == "guide_to_legal":
        extra, note = {"legal_channel": "litigation"}, "导入诉讼程序：依据规定办理"
    if t.action == "transfer":
        extra, note = {"department": demo.department(RENSHE)}, f"转送{RENSHE}：依据规定办理"
    if t.action == "return":
        case.handling_department = demo.department(RENSHE)
    if t.action == "close" or (t.action == "answer" and kind == CaseKind.petition):
        from center.cases.demo import _ready_to_close

        _ready_to_close(case, {n: demo.user(n) for n in ("qs.staff", "qs.leader", "qs01.cadre", "qs01.head")},
                        at=utcnow())
    event = lifecycle.transition(case, t.action, actor=demo.actor(username), note="依据规定办理", unit=unit,
                                 **extra)
    assert case.status == t.target
    assert (event.from_status, event.to_status, event.action, event.note) == (source, t.target, t.action, note)
    if t.action in ("transfer", "return"):
        assert case.handling_department == (demo.department(RENSHE) if t.action == "transfer" else None)
    assert event.actor_user_id == demo.user(username).id and "status" in event.changed_fields
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == f"case.{t.action}",
                                                      AuditEntry.object_id == str(case.id))) is not None
    if unit is not None:
        assert case.handling_unit == unit and "handling_unit_id" in event.changed_fields


def test_every_transition_the_table_does_not_allow_is_refused(db, demo):
    system = Actor.system("cli")
    refused = 0
    for kind in CaseKind:
        case = new_case(demo, kind=kind.value, handling="青石镇")
        for status in CaseStatus:
            for action in sorted(lifecycle.ACTIONS | {"delete", ""}):
                spec = lifecycle.transition_for(kind, action)
                if spec is not None and status in spec.sources:
                    continue
                case.status = status
                with pytest.raises(InvalidTransition) as exc:
                    lifecycle.transition(case, action, actor=system, unit=demo.unit("上坝村"))
                assert re.search(r"[\u4e00-\u9fff]", exc.value.message) and case.status == status
                refused += 1
    assert refused > 250
    assert db.session.scalar(select(text("count(*)")).select_from(CaseEvent).where(
        CaseEvent.action != "register", CaseEvent.case_id == case.id)) == 0


def test_final_states_allow_nothing():
    for status in lifecycle.FINAL_STATUSES:
        assert not any(status in t.sources for t in lifecycle.TRANSITIONS)


def test_permission_refusals(db, demo):
    case = new_case(demo, "qs01.g1", origin="青石村第1网格")
    with pytest.raises(PermissionDenied):  # a grid worker sees what they filed but cannot accept it
        lifecycle.transition(case, "accept", actor=demo.actor("qs01.g1"))
    with pytest.raises(PermissionDenied):  # a township leader approves; triage is the staff's
        lifecycle.transition(case, "accept", actor=demo.actor("qs.leader"))
    with pytest.raises(PermissionDenied):  # the village handles this dispute: the township above only sees it
        lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"))
    lifecycle.transition(case, "accept", actor=demo.actor("qs01.head"))
    case.status = CaseStatus.answered
    with pytest.raises(PermissionDenied):  # closing needs case.approve: the village head, not its cadre
        lifecycle.transition(case, "close", actor=demo.actor("qs01.cadre"))
    assert case.status == CaseStatus.answered


def test_a_petition_cannot_be_handed_down_to_a_village(db, demo):
    petition = new_case(demo, kind="petition")
    with pytest.raises(ValidationFailed) as exc:
        lifecycle.transition(petition, "hand_down", actor=demo.actor("qs.staff"), unit=demo.unit("上坝村"))
    assert "村(居)民委员会不是信访事项的受理、办理机关" in exc.value.errors["unit_id"][0]
    assert petition.status == CaseStatus.registered and petition.handling_unit.name == "青石镇"
    dispute = new_case(demo, handling="青石镇")
    lifecycle.transition(dispute, "hand_down", actor=demo.actor("qs.staff"), unit=demo.unit("上坝村"))
    assert dispute.handling_unit.name == "上坝村"
    for target in ("柳河村", "青石镇", "上坝村第1网格"):  # outside the handling unit, itself, a grid
        other = new_case(demo, handling="青石镇")
        with pytest.raises((ValidationFailed, PermissionDenied)):
            lifecycle.transition(other, "hand_down", actor=demo.actor("qs.staff"), unit=demo.unit(target))


def test_escalate_goes_to_the_parent_or_an_ancestor_only(db, demo):
    case = new_case(demo, handling="青石镇")
    lifecycle.transition(case, "escalate", actor=demo.actor("qs.staff"))
    assert case.handling_unit.name == "示范区"
    case2 = new_case(demo, handling="青石镇")
    with pytest.raises(ValidationFailed):
        lifecycle.transition(case2, "escalate", actor=demo.actor("qs.staff"), unit=demo.unit("柳河镇"))


# --- repeats ----------------------------------------------------------------------------------------------------

def test_repeat_detection_by_document_or_name_and_phone_within_twelve_months(db, demo):
    district = demo.unit("示范区")
    actor = demo.actor("qs.staff")
    earlier = new_case(demo, kind="petition", at=AT - timedelta(days=100))
    old = new_case(demo, kind="petition", parties=[person(id_number=ID_B, phone="13900001111")],
                   at=AT - timedelta(days=400))
    spaced = f"{ID_A[:6]} {ID_A[6:].lower()}"
    assert find_repeat_candidates(actor, [person(id_number=spaced, phone=None)], district=district,
                                  now=AT) == [earlier]
    assert find_repeat_candidates(actor, [person(id_number=None, phone="138-1234-5678")], district=district,
                                  now=AT) == [earlier]
    assert find_repeat_candidates(actor, [person(name="李四", id_number=None)], district=district, now=AT) == []
    assert find_repeat_candidates(actor, [person(id_number=ID_B, phone=None)], district=district, now=AT) == []
    assert find_repeat_candidates(actor, [person(id_number=ID_B, phone=None)], district=district,
                                  now=AT - timedelta(days=300)) == [old]
    repeat = new_case(demo, kind="petition", repeat_of=earlier)
    assert repeat.repeat_of_case_id == earlier.id


# --- jurisdiction -------------------------------------------------------------------------------------------------

def _sees(demo, username, case) -> bool:
    actor = demo.actor(username)
    in_sql = case.id in {c.id for c in demo.db.session.scalars(cases_query(actor))}
    assert in_sql == can_see(actor, case), username  # the SQL rule and the Python rule agree
    try:
        get_case_or_404(case.id, actor=actor)
        by_number = get_case_by_number_or_404(case.number, actor=actor) is case
    except NotFound:
        assert not in_sql
        return False
    return in_sql and by_number


def test_a_village_sees_its_own_cases_only(db, demo):
    case = new_case(demo, "qs02.cadre", origin="上坝村")
    assert _sees(demo, "qs02.cadre", case) and _sees(demo, "qs.staff", case) and _sees(demo, "center.li", case)
    for outsider in ("qs01.cadre", "qs01.head", "cg.staff", "qs01.g1", "xinfang.liaison"):
        assert not _sees(demo, outsider, case)
    with pytest.raises(NotFound):
        lifecycle.transition(case, "accept", actor=demo.actor("cg.staff"))
    for bad in ("abc", 0, -1, 2**40, None):
        with pytest.raises(NotFound):
            get_case_or_404(bad, actor=demo.actor("qs.staff"))
    with pytest.raises(NotFound):
        get_case_by_number_or_404("SF-2026-1' OR 1=1", actor=demo.actor("qs.staff"))


def test_an_assignee_sees_the_case(db, demo):
    case = new_case(demo, "qs02.cadre", origin="上坝村")
    assert not _sees(demo, "cg.staff", case)
    case.assignee_user_id = demo.user("cg.staff").id
    db.session.flush()
    assert _sees(demo, "cg.staff", case)


def test_accusations_are_invisible_at_and_under_the_accused_unit_except_to_the_filer(db, demo):
    case = new_case(demo, "center.li", kind="petition", petition_class="accusation", origin="青石镇",
                    handling="示范区", accused_unit=demo.unit("青石镇"))
    assert _sees(demo, "center.li", case) and _sees(demo, "leader.wang", case)
    for accused in ("qs.staff", "qs.leader", "qs01.head"):  # at or under 青石镇: hidden, origin or not
        assert not _sees(demo, accused, case)
    with pytest.raises(NotFound):
        lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"))
    own = new_case(demo, "qs.staff", kind="petition", petition_class="accusation", origin="青石镇",
                   handling="示范区", accused_unit=demo.unit("青石镇"))
    assert _sees(demo, "qs.staff", own) and not _sees(demo, "qs.leader", own)
    above = new_case(demo, "qs.staff", kind="petition", petition_class="accusation", origin="青石镇",
                     accused_unit=demo.unit("青石村"))
    assert _sees(demo, "qs.leader", above) and not _sees(demo, "qs01.head", above)
    hidden = find_repeat_candidates(demo.actor("qs.leader"), [person(phone=None)], district=demo.unit("示范区"),
                                    now=AT)
    assert case not in hidden and own not in hidden and above in hidden


def test_deadline_rows_hold_no_personal_data(db, demo):
    case = new_case(demo, kind="petition")
    rows = db.session.scalars(select(Deadline).where(Deadline.case_id == case.id)).all()
    assert {r.rule for r in rows} == {"transfer", "notice"}
    assert db.session.scalar(select(Party.id_index).where(Party.case_id == case.id)) != ID_A


def test_publishing_the_holiday_table_recomputes_provisional_deadlines(db, demo):
    from center.cases.models import CaseEvent
    from core.actor import Actor
    from core.calendar.operations import publish_year, set_day

    case = new_case(demo, kind="petition")
    lifecycle.transition(case, "accept", actor=demo.actor("qs.staff"), at=datetime(2026, 12, 20, 9, 0, tzinfo=SH))
    answer = next(d for d in case.deadlines if d.rule == "answer")
    met = next(d for d in case.deadlines if d.rule == "transfer")
    answer.supervision_level = 1  # a 督办 reminder already went out
    db.session.flush()
    row_id, met_due = answer.id, met.due_on
    admin = Actor.system("cli")
    set_day(date(2027, 2, 18), "holiday", actor=admin, name="春节")  # the official table differs from 暂定
    publish_year(2027, actor=admin)
    db.session.flush()
    db.session.refresh(answer)
    assert answer.id == row_id and answer.supervision_level == 1  # same row, 督办 level kept
    assert (answer.due_on, answer.provisional) == (date(2027, 2, 19), False)
    assert met.due_on == met_due  # deadlines already met are not recomputed
    event = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.action == "deadline_recomputed"))
    assert "2027-02-18" in event.note and "2027-02-19" in event.note


def test_case_page_shows_the_record_masked_and_is_404_outside_jurisdiction(db, demo, signed_in):
    case = new_case(demo, kind="petition")
    db.session.commit()
    staff = signed_in("qs.staff")
    page = staff.get(f"/cases/{case.number}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and case.number in text and "办理期限" in text
    assert ID_A not in text and ID_A[-4:] in text  # masked: only the ends of the ID number
    other_township = signed_in("cg.staff")
    assert other_township.get(f"/cases/{case.number}").status_code == 404
    assert staff.get("/cases/SF-2026-999999").status_code == 404
