"""The case page offers exactly the actions the authority table allows (issue 9 §1, "Done means").

Two parts:
- **the table's subjects**: for five case pages (a township petition just registered, a district petition in
  progress with three departments joined, a petition accepted by 区人社局 after 转送, a village dispute being
  mediated, a township petition closed), every demo user the table names opens ``/cases/<number>``; the forms
  and links it shows (transitions, dispatch and each assignment step, documents, extension, mediation, 督办,
  evaluation, follow-up, 复查, notes, attachments, 包案, 风险等级) must be exactly the table's "allowed" cells for
  that user on that subject. A control the page shows without a cell in the table is a failure too;
- **the demo district** (cases found by summary): the village head's page on a township petition offers no
  decision; the liaison of 区民政局, summoned to the red collective petition, is offered acknowledging, arrival,
  progress and then the assignment's result, and no case decision; the petition transferred to 区人社局 shows
  its answer approved by the department's head, in the department's name.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.center import authority_spec as spec
from tests.center.test_authority_table import OK, TABLE

#: Actions a case page offers through a control of its own (summons is the dispatch form; evaluate and terminate
#: follow their records and have no control).
PAGE_ACTIONS = (spec.TRANSITIONS - {"evaluate", "terminate"}) | {
    "dispatch", "acknowledge", "arrive", "take", "complete", "withdraw", "assign_owner", "regrade", "draft",
    "doc_approve", "serve", "extension", "mediation_session", "mediation_outcome", "mediation_approve",
    "mediation_approve_close", "evaluation", "follow_up", "review_request", "review_decide", "supervise", "note",
    "upload"}
PAGE_SUBJECTS = ("T.p.registered", "D.p.in_progress", "X.p.accepted", "V.d.mediating+outcome", "T.p.closed")


def _cells(subject: str) -> dict[str, dict[str, str]]:
    """{user: {action: cell}} of the table's form cells on ``subject``."""
    out: dict[str, dict[str, str]] = {}
    for key, action, channels, cells in TABLE:
        if key != subject or "form" not in channels.split() or action not in PAGE_ACTIONS:
            continue
        for user, cell in cells.items():
            out.setdefault(user, {})[action] = cell
    return out


PAGE_ROWS = [pytest.param(subject, user, id=f"{subject}|{user}")
             for subject in PAGE_SUBJECTS for user in sorted(_cells(subject))]


@pytest.mark.parametrize(("subject_key", "user"), PAGE_ROWS)
def test_the_page_offers_exactly_what_the_table_allows(app, db, demo, signed_in, subject_key, user):
    cells = _cells(subject_key)[user]
    subject = spec.build(demo, subject_key)
    client, _ = spec.sign_in(signed_in, user)
    page = client.get(f"/cases/{subject.number}")
    if set(cells.values()) == {"404"}:
        assert page.status_code == 404, f"{user} should not see the case on {subject_key}"
        return
    if set(cells.values()) == {"403"} and spec.USERS[user][0] in ("system_admin", "security_admin", "auditor"):
        assert page.status_code == 403
        return
    assert page.status_code == 200, f"{user} on {subject_key}: {page.status_code}"
    shown = spec.offered(page.get_data(as_text=True), subject) - {"review_pause"}
    allowed = {action for action, cell in cells.items() if cell == OK}
    refused_but_shown = {a: cells[a] for a in shown & set(cells) if cells[a] != OK}
    no_cell = shown - set(cells)
    missing = allowed - shown
    assert not (refused_but_shown or no_cell or missing), (
        f"{user} on {subject_key}: offered but refused by the table {refused_but_shown}; offered without a "
        f"table cell {sorted(no_cell)}; allowed but not offered {sorted(missing)}")


# --- the demo district ------------------------------------------------------------------------------------------

#: Decisions on the case itself (包案 and 风险等级 are the table's cells, not repeated here).
DECISIONS = {"accept", "not_accept", "hand_down", "transfer", "return", "escalate", "start", "mediate",
             "refer_mediation", "answer", "close", "reopen", "guide_to_legal", "dispatch", "withdraw", "draft",
             "doc_approve", "serve", "extension", "supervise", "mediation_session", "mediation_outcome",
             "mediation_approve", "mediation_approve_close", "review_request", "review_decide"}


def _demo_case(db, summary: str):
    from center.cases.models import Case

    case = db.session.scalar(select(Case).where(Case.summary == summary))
    assert case is not None, f"demo case {summary!r} missing"
    return case


def _subject_of(case) -> spec.Subject:
    return spec.Subject("demo", "demo", "p" if case.kind == "petition" else "d", case,
                        assignments={a.department.name: a.id for a in case.assignments})


def _page(client, case) -> tuple[int, str]:
    response = client.get(f"/cases/{case.number}")
    return response.status_code, response.get_data(as_text=True)


def _buttons(html: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]+)</button>", html)


def test_the_village_head_is_offered_no_decision_on_a_township_petition(app, db, demo, signed_in):
    """qs01.head sees the township petition about his village's roads (origin 青石村): notes and photos only."""
    case = _demo_case(db, "反映村组道路硬化工程质量问题")
    assert case.kind == "petition" and case.handling_unit.name == "青石镇" and case.origin_unit.name == "青石村"
    status, html = _page(signed_in("qs01.head"), case)
    assert status == 200
    shown = spec.offered(html, _subject_of(case))
    assert shown == {"note", "upload"}, shown
    buttons = _buttons(html)
    for label in ("受理", "交办", "不予受理", "导入法定程序", "转送部门办理", "上报"):
        assert label not in buttons, (label, buttons)
    # the township's clerk, on the same page, is offered them (the page does show decisions to the organ)
    status, clerk_html = _page(signed_in("qs.staff"), case)
    assert status == 200 and {"accept", "not_accept", "guide_to_legal"} <= spec.offered(clerk_html, _subject_of(case))


def test_the_summoned_liaison_gives_feedback_and_takes_no_case_decision(app, db, demo, signed_in):
    """区民政局, summoned to the red 35-person petition: acknowledge, arrival, progress, then its result."""
    from center.departments.models import CaseAssignment

    case = _demo_case(db, "反映开发区企业破产职工安置问题（集体访）")
    assert case.people_count == 35 and case.risk_colour == "red"
    summons = next(a for a in case.assignments if a.department.name == "区民政局")
    assert summons.status == "summoned"
    client, token = spec.sign_in(signed_in, "minzheng.liaison")
    status, html = _page(client, case)
    assert status == 200
    subject = _subject_of(case)
    shown = spec.offered(html, subject, any_assignment=True)
    assert {"acknowledge", "arrive", "note", "upload"} <= shown, shown
    assert not shown & DECISIONS, shown & DECISIONS
    assert not {"答复", "办结", "受理", "不予受理"} & set(_buttons(html)), _buttons(html)

    base = f"/cases/{case.number}/assignments/{summons.id}"
    assert client.post(f"{base}/acknowledge", data={"csrf_token": token}).status_code == 302
    assert client.post(f"{base}/arrive", data={"csrf_token": token}).status_code == 302
    status, html = _page(client, case)
    shown = spec.offered(html, subject, any_assignment=True)
    assert "complete" in shown and "提交办结反馈" in html, shown
    assert not shown & DECISIONS, shown & DECISIONS
    assert client.post(f"{base}/complete", data={"csrf_token": token, "result": "已评估：符合临时救助条件的 12 户"}) \
        .status_code == 302
    db.session.expire_all()
    done = db.session.get(CaseAssignment, summons.id)
    assert done.status == "done" and done.result.startswith("已评估")
    db.session.refresh(case)
    assert case.status == "in_progress", "the department's result decides nothing on the case"


def test_the_transferred_petition_shows_the_department_head_approving_its_answer(app, db, demo, signed_in):
    """转送 to 区人社局: it accepted and handles the case; its answer is issued in its name, approved by its head."""
    from center.cases.models import CaseDocument

    case = _demo_case(db, "反映某建筑公司拖欠四十余名农民工工资")
    renshe = demo.department(spec.RENSHE)
    assert case.handling_department_id == renshe.id and case.handling_unit.name == "示范区"
    doc = db.session.scalar(select(CaseDocument).where(CaseDocument.case_id == case.id,
                                                       CaseDocument.kind == "answer"))
    head, liaison = demo.user("renshe.head"), demo.user("renshe.liaison")
    assert doc.organ_department_id == renshe.id and doc.organ_name == spec.RENSHE
    assert doc.approved_by_user_id == head.id and doc.drafter_user_id == liaison.id

    client = signed_in("renshe.head")
    view = client.get(f"/cases/{case.number}/documents/{doc.id}")
    text = view.get_data(as_text=True)
    assert view.status_code == 200 and spec.RENSHE in text and head.display_name in text
    status, html = _page(client, case)
    assert status == 200 and spec.RENSHE in html
    assert "document_approved" in {e.action for e in case.events if e.actor_user_id == head.id}
    # the district center keeps the scope, not the decisions: no approval, no answer, no close on its page
    for username in ("center.li", "leader.wang"):
        status, center_html = _page(signed_in(username), case)
        shown = spec.offered(center_html, _subject_of(case))
        assert status == 200 and not shown & (DECISIONS - {"supervise"}), (username, shown & DECISIONS)
    # the department's own liaison serves the approved answer; the head (approver) is not offered to approve again
    status, liaison_html = _page(signed_in("renshe.liaison"), case)
    assert "serve" in spec.offered(liaison_html, _subject_of(case))
    assert "doc_approve" not in spec.offered(html, _subject_of(case))
