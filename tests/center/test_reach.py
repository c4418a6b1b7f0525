"""The scope table (center.cases.reach): the rows kept by every flush equal a recomputation, through the
operations that move a case; the lists and counts it serves equal the registry's visibility rule applied case
by case (queries.can_see), for every demo membership."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from center.cases import reach
from center.cases.listing.search import Filters, search_cases
from center.cases.models import Case, CaseReach
from center.cases.queries import can_see, cases_query
from center.cases.routing import operations as routing
from core.accounts.models import Membership
from core.actor import Actor
from tests.factories import make_case


def _drift(db):
    db.session.flush()
    return reach.drift(db.session.connection())


def test_the_demo_district_s_rows_equal_a_recomputation(db, demo):
    assert db.session.scalar(select(func.count()).select_from(CaseReach)) > db.session.scalar(
        select(func.count(Case.id)))
    assert _drift(db) == []


def test_a_case_s_rows_follow_it_through_the_operations_that_move_it(db, demo):
    """Intake, acceptance, 上报 to the district, a department, an owner and an assignee, 办结: after each
    step the kept rows equal a recomputation, and the case is reached by exactly the expected ways in."""
    from center.cases.lifecycle.operations import transition
    from center.departments.operations import dispatch

    case = make_case(demo, "qs.staff", "青石村", kind="dispute", colour="orange")
    keys = lambda: {(r.kind, r.ref_id) for r in db.session.scalars(  # noqa: E731
        select(CaseReach).where(CaseReach.case_id == case.id))}
    assert _drift(db) == []
    village, township, district = demo.unit("青石村"), demo.unit("青石镇"), demo.unit("示范区")
    assert {(reach.REACH_UNIT, u.id) for u in (village, township, district)} <= keys()
    assert (reach.REACH_FILER, demo.user("qs.staff").id) in keys()
    assert all(k != reach.REACH_PERSON for k, _ in keys())
    transition(case, "accept", actor=demo.actor("qs01.head"))
    assert _drift(db) == []
    routing.assign_owner(case, actor=demo.actor("qs.staff"), owner_leader=demo.user("qs.leader"))
    assert (reach.REACH_PERSON, demo.user("qs.leader").id) in keys() and _drift(db) == []
    transition(case, "escalate", actor=demo.actor("qs01.head"), unit=township, note="村级调解未果，上报镇中心")
    assert case.handling_unit_id == township.id and _drift(db) == []
    assert (reach.REACH_UNIT, village.id) in keys()  # the origin still reaches it
    department = routing_departments(case)[0]
    dispatch(case, department, actor=demo.actor("qs.staff"), task="请派员参与调解")
    assert (reach.REACH_DEPARTMENT, department.id) in keys() and _drift(db) == []
    transition(case, "accept", actor=demo.actor("qs.staff"))
    assert _drift(db) == []
    row = db.session.scalar(select(CaseReach).where(CaseReach.case_id == case.id).limit(1))
    assert row.status == case.status.value and row.done is False


def routing_departments(case):
    from center.departments.operations import allowed_departments

    return allowed_departments(case)


def test_rebuild_restores_lost_rows(db, demo):
    db.session.execute(delete(CaseReach))
    assert _drift(db) != []
    reach.rebuild(db.session)
    assert _drift(db) == []


def _actors(db):
    users = {m.user for m in db.session.scalars(select(Membership)) if m.is_effective and m.user.is_active}
    return [Actor.for_user(u) for u in sorted(users, key=lambda u: u.username)]


def test_every_membership_sees_through_the_table_what_the_rule_lets_it_see(db, demo):
    """cases_query (the table's EXISTS), the list (the merged ways in) and its total equal can_see applied
    to every case one by one, for every active demo account — the 检举控告 rule included."""
    cases = list(db.session.scalars(select(Case)))
    checked = 0
    for actor in _actors(db):
        expected = {c.id for c in cases if can_see(actor, c)}
        assert set(db.session.scalars(cases_query(actor).with_only_columns(Case.id))) == expected, actor
        page = search_cases(actor, Filters({}), per_page=len(cases) + 1)
        assert [c.id for c in page.cases] == _ordered(cases, expected) and page.total == len(expected), actor
        checked += bool(expected)
    assert checked >= 20


def _ordered(cases, ids):
    """Open first, newest first, then the higher id: the list's order, in Python."""
    from center.cases.listing.queues import DONE

    chosen = [c for c in cases if c.id in ids]
    return [c.id for c in sorted(chosen, key=lambda c: (c.status in DONE, -c.received_at.timestamp(), -c.id))]


@pytest.mark.parametrize("per_page", [1, 3, 7])
def test_pages_partition_the_list(db, demo, per_page):
    """Pages counted from the start are the list's order cut in pieces — pages the open cases fill alone
    (where the done part is not read) and the pages across the turn from open to done alike."""
    from center.cases.listing.queues import DONE

    actor = demo.actor("qs.staff")
    cases = list(db.session.scalars(select(Case)))
    everything = _ordered(cases, {c.id for c in cases if can_see(actor, c)})
    assert sum(1 for c in cases if c.id in set(everything) and c.status not in DONE) > per_page
    pages = []
    for number in range(1, len(everything) // per_page + 2):
        pages += [c.id for c in search_cases(actor, Filters({}), page=number, per_page=per_page).cases]
    assert pages[:len(everything)] == everything


@pytest.mark.parametrize("who", ["qs.staff", "center.li"])
def test_the_pager_s_cursors_walk_the_list_forwards_and_back(db, demo, who):
    """Following "下一页" (after the last row) and back with "上一页" (before the first) visits exactly the pages
    counted from the start, for a user with one way in and for one whose person/filer rows add to it."""
    actor = demo.actor(who)
    per_page = 4
    everything = [c.id for c in search_cases(actor, Filters({}), per_page=1000).cases]
    assert len(everything) > 3 * per_page
    pages, cursor, number = [], None, 1
    while True:
        values = {"after": cursor} if cursor else {}
        page = search_cases(actor, Filters({**values, "page": number}), per_page=per_page)
        pages.append([c.id for c in page.cases])
        if not page.has_next:
            break
        cursor, number = page.last, number + 1
    assert [i for p in pages for i in p] == everything
    back = pages[-1]
    first = search_cases(actor, Filters({"after": cursor, "page": number}), per_page=per_page).first if cursor \
        else None
    walked = []
    while first is not None and number > 1:
        number -= 1
        page = search_cases(actor, Filters({"before": first, "page": number}), per_page=per_page)
        walked.insert(0, [c.id for c in page.cases])
        first = page.first
    assert walked + [back] == pages


def test_a_bad_cursor_is_refused_in_chinese(client, db, demo, login_as):
    login_as("qs.staff")
    for bad in ("x", "2.1.1", "1.abc.3", "1." + "9" * 30 + ".1", "1." + "9" * 19 + ".1", "0.1.9999999999"):
        response = client.get("/cases/", query_string={"after": bad})
        assert response.status_code == 422, bad
        assert "翻页位置无效" in response.get_data(as_text=True)
    assert client.get("/cases/", query_string={"after": "0.1.1", "before": "0.1.1"}).status_code == 422
    assert client.get("/cases/", query_string={"after": "1.0.1", "page": 2}).status_code == 200
