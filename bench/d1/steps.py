"""One case's life, step by step, in the order the operations allow (center.cases.lifecycle.operations
TRANSITIONS): routing, 受理, documents that meet their deadlines, mediation, 答复, 办结, then 评价, 回访,
复查/复核 and 重新办理. Each ``g.after`` may raise NotYet: the case then stays where it is.

A small share of cases (``case.detailed``) carries every document and mediation step on its timeline; the
others keep those records as rows only, as center/cases/demo.py writes the paper trail of cases past them.
Delays are drawn so that most steps meet their deadlines and some do not.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from bench.d1 import names, routing
from bench.d1.clock import NotYet
from bench.d1.weighted import Weighted
from bench.d1.writer import utc
from center.cases.intake.schemas import LEGAL_CHANNELS
from center.cases.lifecycle.operations import FINAL_STATUSES
from center.cases.supervision.operations import LEVEL_FORMS, _note

FINAL = frozenset(s.value for s in FINAL_STATUSES)
SERVICE_METHODS = Weighted(("direct", "registered_mail", "electronic", "entrusted"), (50, 30, 15, 5))
RATINGS = Weighted(("satisfied", "basically", "unsatisfied"), (75, 18, 7))


def _late(rng, on_time: tuple[float, float], late: tuple[float, float], share: float, *,
          stuck: bool = True) -> float:
    """A step's delay: on time mostly, late by ``share``, and once in a long while (``stuck``) for months or
    years (积案: the backlog every desk carries)."""
    r = rng.random()
    if stuck and r < 0.004:
        return rng.uniform(60, 1200)
    return rng.uniform(*late) if r < share else rng.uniform(*on_time)


# --- disputes ---------------------------------------------------------------------------------------------------

def dispute(g, case, t) -> None:
    rng = g.rng
    unit = case.handling_unit
    if unit.tier == "township" and rng.random() < 0.15:
        t = g.after(t, rng.uniform(0.05, 2))
        g.transition(case, "hand_down", g.triager(unit), t, unit=case.village, note="属地调处")
    elif unit.tier == "village" and rng.random() < 0.03:
        t = g.after(t, rng.uniform(0.2, 3))
        g.transition(case, "escalate", g.triager(unit), t, unit=unit.parent, note="村级调解力量不足，提请镇街调处")
    t = _accept_dispute(g, case, t)
    if t is None:
        return
    t, success = _mediation(g, case, t, success_rate=0.82)
    if not success and case.handling_unit.tier == "village" and rng.random() < 0.5:
        t = g.after(t, rng.uniform(0.5, 5))
        g.transition(case, "escalate", g.triager(case.handling_unit), t, unit=case.handling_unit.parent,
                     note="村调解不成，提请镇街调处")
        t = _accept_dispute(g, case, t)
        if t is None:
            return
        t, success = _mediation(g, case, t, success_rate=0.75)
    _close(g, case, t)


def _accept_dispute(g, case, t):
    """受理 within 3 working days (most), or 不予受理; None when the case ends there."""
    rng = g.rng
    organ = g.organ(case)
    t = g.after(t, _late(rng, (0.05, 2.5), (5, 14), 0.03))
    if rng.random() < 0.03:
        g.transition(case, "not_accept", g.triager(organ), t, note="该纠纷已进入诉讼程序，告知当事人依法参加诉讼")
        case.done_on = t.date()
        return None
    g.transition(case, "accept", g.triager(organ), t)
    routing.owner(g, case, t)
    routing.dispatch(g, case, t)
    return t


def _mediation(g, case, t, *, success_rate: float):
    """开始调解, then sessions until one has an outcome the leader approves; (time, success)."""
    rng = g.rng
    unit = case.handling_unit
    t = g.after(t, rng.uniform(0, 3))
    g.transition(case, "mediate", g.staff(unit), t)
    t = g.after(t, _late(rng, (1, 24), (31, 75), 0.03))
    success = rng.random() < success_rate
    _session(g, case, t, success)
    return t, success


def _session(g, case, held, success: bool) -> None:
    """A session with its outcome (meets 调处化解 on the day it was held), approved by the unit's leader."""
    rng = g.rng
    unit = case.handling_unit
    recorder, approver = g.staff(unit), g.leader(unit)
    people_mediation = unit.tier in ("village", "township") and rng.random() < 0.85
    kind = "people" if people_mediation else rng.choice(("administrative", "judicial"))
    mediators = f"{unit.name}人民调解委员会" if kind == "people" else f"{unit.center_name or unit.name}"
    try:
        approved = g.after(held, rng.uniform(0.02, 2))
    except NotYet:  # held and recorded, the leader has not signed yet
        approved, approver = None, None
    row = g.rows.add("case_mediation_sessions", case_id=case.id, mediation_type=kind, held_at=utc(held),
                     place=f"{unit.name}调解室", mediators=mediators, participants="双方当事人",
                     notes="双方陈述意见，调解员释法说理", outcome="success" if success else "failure",
                     agreement=rng.choice(names.AGREEMENTS) if success else None,
                     guidance=None if success else rng.choice(names.GUIDANCE), recorded_by_user_id=recorder,
                     approved_by_user_id=approver, approved_at=utc(approved), created_at=utc(held),
                     updated_at=utc(approved or held))
    g.clock.meet(case, ["dispute_resolve"], held, "agreement" if success else "mediation_failed")
    if case.detailed:
        obj = ("case_mediation_sessions", row["id"])
        g.log(case, "mediation_session", recorder, held, note=f"{'人民调解' if kind == 'people' else '调解'}：{mediators}",
              changed=["mediation_type", "held_at", "place", "mediators", "participants", "notes"], obj=obj)
        g.log(case, "mediation_outcome", recorder, held, note="调解成功" if success else "调解不成",
              changed=["outcome", "agreement" if success else "guidance"], obj=obj)
        if approved is not None:
            g.log(case, "mediation_approved", approver, approved, note="调解成功" if success else "调解不成",
                  changed=["approved_by_user_id", "approved_at"], obj=obj)
    if approved is None:
        raise NotYet


def _close(g, case, t) -> None:
    """出具调处结果 / 答复, then 办结 by the organ's leader, then what follows a close."""
    rng = g.rng
    organ = g.organ(case)
    t = g.after(t, rng.uniform(0.02, 2))
    g.transition(case, "answer", g.staff(organ), t)
    case.answered_at = t
    t = g.after(t, rng.uniform(0.02, 4))
    g.transition(case, "close", g.leader(organ), t)
    aftercare(g, case, t)


# --- petitions --------------------------------------------------------------------------------------------------

def petition(g, case, t) -> None:
    rng = g.rng
    unit = case.handling_unit
    r = rng.random()
    if r < 0.05:
        t = g.after(t, rng.uniform(0.5, 12))
        reason = rng.choice(names.NOT_ACCEPT_REASONS)
        g.transition(case, "not_accept", g.triager(unit), t, note=reason)
        case.done_on = t.date()
        # the 不予受理告知书 meets the 受理告知 deadline; until it is issued that row stays open
        _issue(g, case, "not_accepted", g.after(t, rng.uniform(0.05, 1.5)), reason=reason)
        return
    if r < 0.08 and case.pclass == "appeal":
        t = g.after(t, rng.uniform(0.5, 10))
        channel = rng.choice(list(LEGAL_CHANNELS))
        g.transition(case, "guide_to_legal", g.triager(unit), t, note=f"导入{LEGAL_CHANNELS[channel]}程序")
        case.done_on = t.date()
        return
    if unit.tier == "district" and case.accused is None and rng.random() < 0.4:
        t = g.after(t, _late(rng, (0.2, 10), (16, 30), 0.02))
        g.transition(case, "hand_down", g.triager(unit), t, unit=case.township, note="属地办理")
    elif rng.random() < 0.12:
        department = routing.competent_department(g, case)
        if department is not None:
            t = g.after(t, _late(rng, (0.2, 8), (16, 30), 0.02))
            g.transition(case, "transfer", g.triager(unit), t, department=department)
    organ = g.organ(case)
    t = g.after(t, _late(rng, (0.3, 10), (16, 40), 0.02))
    g.transition(case, "accept", g.triager(organ), t)
    notice_at = None
    try:  # the 受理告知书 goes its own way: a late one holds up only the answer, which comes after it
        # never stuck: a case is not answered and closed around a 受理告知书 that was never issued
        notice_at = g.after(t, _late(rng, (0.05, 3), (8, 25), 0.03, stuck=False))
        _issue(g, case, "acceptance", notice_at)
    except NotYet:
        pass
    routing.owner(g, case, t)
    routing.dispatch(g, case, t)
    t = g.after(t, rng.uniform(0, 3))
    g.transition(case, "start", g.staff(organ), t)
    if case.pclass == "appeal" and case.row["category"] in ("婚姻家庭", "邻里纠纷", "合同债务", "损害赔偿") \
            and rng.random() < 0.3:
        # 访调对接: both parties consented; the answer then records the mediation's result
        t = g.after(t, rng.uniform(0.5, 5))
        g.transition(case, "refer_mediation", g.triager(organ), t, note="经双方当事人同意，转人民调解")
        t = g.after(t, rng.uniform(2, 20))
        _session(g, case, t, rng.random() < 0.8)
    t = _answer(g, case, t, floor=notice_at)
    t = g.after(t, rng.uniform(0.05, 5))
    g.transition(case, "close", g.leader(organ), t)
    aftercare(g, case, t)


def _answer(g, case, t, *, floor=None):
    """The 答复意见书 (approved: meets 办结答复; once in a while after an extension), its service, and 答复."""
    rng = g.rng
    organ = g.organ(case)
    answer_row = next((d for d in g.clock.open_rows(case, {"answer"})), None)
    extended = answer_row is not None and rng.random() < 0.05
    t = max(t, floor) if floor is not None else t
    if extended:
        ext_at = g.after(t, rng.uniform(35, 55))
        _extend(g, case, answer_row, ext_at)
        t = g.after(ext_at, rng.uniform(5, 35))
    else:
        t = g.after(t, _late(rng, (8, 55), (62, 110), 0.03))
    doc = _issue(g, case, "answer", t)
    served = g.after(t, rng.uniform(0.05, 4))
    method = SERVICE_METHODS(rng)
    g.rows.add("case_service_records", case_id=case.id, document_id=doc["id"], method=method,
               served_on=served.date(), reference=f"EMS 11{rng.randrange(10**9):09d}" if method ==
               "registered_mail" else f"回执 {rng.randrange(10**4):04d}" if method == "direct" else None,
               recipient=case.applicants[0] if method == "direct" else None, recorded_by_user_id=g.staff(organ),
               created_at=utc(served), updated_at=utc(served))
    if case.detailed:
        g.log(case, "document_served", g.staff(organ), served, note=f"答复意见书已于 {served:%Y-%m-%d} 送达",
              changed=["documents.service"], audit=False)
    if case.kind == "petition":
        g.clock.meet(case, ["review_window"], served, "superseded", kind="window")
        g.clock.start(case, ["review_window"], served, started_on=served.date(), kind="window")
    case.served_on = served.date()
    g.transition(case, "answer", g.staff(organ), served)
    case.answered_at = served
    return served


def _issue(g, case, kind: str, at, *, reason: str = "") -> dict:
    """Draft and approve a document; its approval meets the deadline its kind names (MEETS_ON_ISSUE)."""
    rng = g.rng
    organ = g.organ(case)
    drafter, approver = g.staff(organ), g.leader(organ)
    if drafter == approver:
        drafter = g.triager(organ) if g.triager(organ) != approver else g.staff(organ)
    drafted = max(at - timedelta(hours=rng.uniform(0.3, 5)), g.last_at() + timedelta(minutes=1))
    drafted = min(drafted, at - timedelta(minutes=1))
    doc = g.document(case, kind, drafter, approver, drafted, approved_at=at, reason=reason)
    met = {"acceptance": ("notice", "notice_issued"), "not_accepted": ("notice", "not_accepted_notice"),
           "answer": ("answer" if case.kind == "petition" else "dispute_resolve", "answer_issued")}.get(kind)
    if met:
        g.clock.meet(case, [met[0]], at, met[1])
    if case.detailed:
        label = {"acceptance": "受理告知书", "not_accepted": "不予受理通知书", "answer": "答复意见书"}[kind]
        g.log(case, "document_drafted", drafter, drafted, note=f"起草{label} {doc['doc_no']}", changed=["documents"],
              audit=False)
        g.audit(drafter, drafted, "case.document_drafted", case.handling_unit.id, ("case_documents", doc["id"]),
                ["kind", "organ_name", "doc_no", "title", "body"])
        g.log(case, "document_approved", approver, at, note=f"审批{label} {doc['doc_no']}",
              changed=["documents.approved"], audit=False)
        g.audit(approver, at, "case.document_approved", case.handling_unit.id, ("case_documents", doc["id"]),
                ["approved_by_user_id", "approved_at"])
    return doc


def _extend(g, case, row, at) -> None:
    """延期 once, ≤ 30 days, approved by the organ's head; the 延期告知书 goes with it."""
    rng = g.rng
    days = rng.choice((15, 20, 30))
    old = row["due_on"]
    new = g.clock.calendar.add_calendar_days(old, days)
    reason = rng.choice(names.EXTENSION_REASONS)
    head = g.leader(g.organ(case))
    row["due_on"], row["provisional"] = new.date, row["provisional"] or new.provisional
    notice = g.document(case, "extension", g.staff(g.organ(case)), head, at, approved_at=at, reason=reason, days=days,
                        old_due=old, new_due=new.date)
    g.rows.add("case_extensions", case_id=case.id, deadline_id=row["id"], days=days, reason=reason, old_due_on=old,
               new_due_on=new.date, approved_by_user_id=head, approved_at=utc(at), notice_document_id=notice["id"],
               created_at=utc(at), updated_at=utc(at))
    g.log(case, "extended", head, at, note=f"延期{days}日，办结期限由 {old:%Y-%m-%d} 延长至 {new.date:%Y-%m-%d}：{reason}",
          changed=["deadlines.due_on", "extension"], audit="case.extended",
          audit_changed=["extension.days", "extension.reason", "deadline.due_on"])


# --- after the close --------------------------------------------------------------------------------------------

def aftercare(g, case, t) -> None:
    """回访 and 评价; an unsatisfied petitioner asks for 复查 or the organ reopens."""
    rng = g.rng
    rating = RATINGS(rng)
    review = rating == "unsatisfied" and case.served_on is not None and rng.random() < 0.6
    if review or rng.random() < 0.68:  # a petitioner who asks for 复查 has said what he thinks of the answer
        t = g.after(t, rng.uniform(1, 6) if review else rng.uniform(1, 25))
        routing.evaluate(g, case, t, rating)
    if review:
        _review(g, case, t)
    elif rating == "unsatisfied" and rng.random() < 0.3:
        _reopen(g, case, g.after(t, rng.uniform(3, 20)), g.triager(g.organ(case)), "群众对处理结果不满意，重新办理")


def _reopen(g, case, t, actor, note) -> None:
    g.transition(case, "reopen", actor, t, note=note)
    organ = g.organ(case)
    if case.kind == "dispute":
        t = g.after(t, g.rng.uniform(0.5, 12))
        g.transition(case, "mediate", g.staff(organ), t)
        t = g.after(t, g.rng.uniform(2, 20))
        _session(g, case, t, True)
        _close(g, case, t)
        return
    t = g.after(t, g.rng.uniform(0.5, 12))
    g.transition(case, "start", g.staff(organ), t)
    t = _answer(g, case, t)
    t = g.after(t, g.rng.uniform(0.05, 4))
    g.transition(case, "close", g.leader(organ), t)


def _review(g, case, after) -> None:
    """复查 one level up (on the platform for a township's answer, the city otherwise) within the petitioner's
    window, and now and then 复核 and 终结."""
    rng = g.rng
    on_platform = case.handling_unit.tier == "township"
    district = g.org.district
    window = next((d for d in g.clock.open_rows(case, {"review_window"}, kind="window")), None)
    first = max(case.served_on, after.date()) + timedelta(days=1)
    if window is None or first > window["due_on"]:
        return
    requested = first + timedelta(days=rng.randint(0, (window["due_on"] - first).days))
    decided = routing.review(g, case, "review", requested, organ=district if on_platform else None,
                       external="示范市信访局" if not on_platform else None)
    if decided is None:
        return
    decision, decided_on = decided
    if decision == "revoked":
        _reopen(g, case, g.after(g.noon(decided_on), 0.01), None, f"{district.name if on_platform else '示范市信访局'}"
                "复查撤销原处理意见，责成重新办理")
        return
    if rng.random() < 0.35:
        requested = decided_on + timedelta(days=rng.randint(3, 28))
        decided = routing.review(g, case, "re_review", requested, organ=None,
                           external="示范市人民政府" if on_platform else "示范省信访局")
        if decided is not None:
            g.transition(case, "terminate", None, g.after(g.noon(decided[1]), 0.01),
                         note="复核后终结：信访人以同一事实和理由提出的信访事项不再受理")
            case.done_on = decided[1]


# --- the end of the walk -----------------------------------------------------------------------------------------

def finish(g, case) -> None:
    """Settle what depends on the whole walk: the assignments' later steps, the 督办 the scan issued, the case
    row's final columns, and the case's events and audit rows in time order (ids follow time within a case)."""
    routing.settle_assignments(g, case)
    if case.status in FINAL and case.done_on is None:
        case.done_on = g.last_at().date()

    def issue(row, level, at, new_due):
        if at > g.now:
            return
        note = _note(None, SimpleNamespace(rule=row["rule"], due_on=row["due_on"]), level, new_due)
        sid = g.rows.new_id("case_supervisions")
        g.rows.add("case_supervisions", id=sid, case_id=case.id, deadline_id=row["id"], level=level,
                   form=LEVEL_FORMS[level].value, issued_at=utc(at), new_due_on=new_due, note=note,
                   unit_id=row["responsible_unit_id"] or case.handling_unit.id, created_at=utc(at), updated_at=utc(at))
        g.log(case, f"supervision_{level}", None, at, note=note, changed=["supervision_level"],
              obj=("case_supervisions", sid), audit_changed=["deadline_id", "level", "new_due_on", "supervision_level"])

    g.clock.supervise(case, issue)
    g.flush_record(case)
