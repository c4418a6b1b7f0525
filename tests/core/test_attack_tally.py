"""Attacker tests: the list's total (queues.tally) against the rows it lists, the pager across the open→done
turn, the Core aliases of the scope table (a subtree token, the 检举控告 rule) and the department desk."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from center.cases import reach
from center.cases.listing.queues import DONE, QUEUE_KEYS, queue_clause, queue_row_clause, tally
from center.cases.listing.search import Filters, filter_where, search_clause
from center.cases.models import Case
from center.cases.presenters import today_shanghai
from center.cases.queries import can_see
from core.accounts.models import Membership
from core.actor import Actor
from tests.factories import make_case, make_user


def _ordered(cases, ids):
    chosen = [c for c in cases if c.id in ids]
    return [c.id for c in sorted(chosen, key=lambda c: (c.status in DONE, -c.received_at.timestamp(), -c.id))]


def _view(actor, values, today):
    """The /cases/ view's where and total (center.cases.listing.views.index)."""
    others = Filters({k: v for k, v in values.items() if k not in ("queue", "page")})
    base = filter_where(actor, others, today)
    counted = tally(actor, where=base, today=today, with_total=True)
    queue = values.get("queue")
    where = base.and_rows(lambda r: queue_row_clause(actor, queue, today, r)) if queue else base
    return where, counted.queues[queue] if queue else counted.total, counted


def _walk(actor, where, per_page, *, backwards=True):
    forward, cursor = [], None
    while True:
        rows = reach.page(actor, "case.read", limit=per_page, where=where, after=cursor)
        if not rows:
            break
        assert len(rows) <= per_page
        forward += [i for i, _ in rows]
        cursor = rows[-1][1]
        assert len(forward) < 10000
    if not backwards:
        return forward, None
    backward, cursor = [], reach.Cursor(True, 0, 0)  # past the end: every row ranks before it
    while True:
        rows = reach.page(actor, "case.read", limit=per_page, where=where, before=cursor)
        if not rows:
            break
        backward = [i for i, _ in rows] + backward
        cursor = rows[0][1]
        assert len(backward) < 10000
    return forward, backward


@pytest.fixture()
def world(db, demo):
    """The demo district plus cases that overlap several ways in, share a receipt time, and 检举控告 ones."""
    from datetime import UTC, datetime

    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    same = [make_case(demo, "qs.staff", "青石镇", summary=f"攻击同时{i}排水", at=at) for i in range(3)]
    outside = make_case(demo, "lh.staff", "柳河镇", summary="攻击外镇承办人排水")
    outside.assignee = demo.user("qs.staff")
    outside.owner_leader = demo.user("center.li")
    accused_town = make_case(demo, "center.li", "青石村", kind="petition", petition_class="accusation",
                             accused="青石镇", summary="攻击举报镇干部排水")
    accused_town.assignee = demo.user("qs.staff")  # the person arm of the accused unit's user
    accused_town.owner_leader = demo.user("qs.leader")
    accused_village = make_case(demo, "qs01.head", "青石村", kind="petition", petition_class="accusation",
                                accused="青石村", summary="攻击举报村干部排水")
    svc = make_user(demo, "svc.tally", kind="service",
                    memberships=[("township_staff", "青石镇"), ("township_staff", "柳河镇")])
    outside.filed_by_user_id = svc.id
    db.session.flush()
    return {"same": same, "outside": outside, "accused_town": accused_town, "accused_village": accused_village,
            "svc": svc}


def _actors(db, demo, world):
    users = {m.user for m in db.session.scalars(select(Membership)) if m.is_effective and m.user.is_active}
    out = [Actor.for_user(u) for u in sorted(users, key=lambda u: u.username)]
    town = demo.unit("青石镇").path
    out += [Actor.for_user(world["svc"], within=town), Actor.for_user(demo.user("center.li"), within=town),
            Actor.for_user(demo.user("qs.staff"), within=town)]
    return out


def _filter_sets(db, cases, actor, today):
    """(filter values, the ids of every case the filter keeps, by an independent formulation)."""
    every = {c.id for c in cases}
    out = [({}, every)]
    for key in QUEUE_KEYS:
        out.append(({"queue": key}, set(db.session.scalars(select(Case.id).where(queue_clause(actor, key,
                                                                                              today))))))
    statuses = sorted({c.status.value for c in cases})
    for status in statuses[:1] + [s for s in statuses if s in {d.value for d in DONE}][:1]:
        out.append(({"status": status}, {c.id for c in cases if c.status.value == status}))
    for kind in ("dispute", "petition"):
        out.append(({"kind": kind}, {c.id for c in cases if str(getattr(c.kind, "value", c.kind)) == kind}))
    overdue = set(db.session.scalars(select(Case.id).where(queue_clause(actor, "overdue", today))))
    out.append(({"overdue": "1"}, overdue))
    word = set(db.session.scalars(select(Case.id).where(search_clause("排水"))))
    out.append(({"q": "排水"}, word))
    for key in ("new", "working"):
        queue = set(db.session.scalars(select(Case.id).where(queue_clause(actor, key, today))))
        out.append(({"q": "排水", "queue": key}, word & queue))
    out.append(({"overdue": "1", "queue": "working"}, overdue & out[2][1]))
    return out


# Every filter and combination for one account of each kind of reach (district, township staff, village, grid);
# each other account walks its unfiltered list and counts its queues, which is where reach differs between them.
EVERY_FILTER = {"center.li", "qs.staff", "qs01.head", "qs01.g1"}


def test_every_account_s_pages_and_total_are_what_can_see_allows(db, demo, world):
    today = today_shanghai()
    cases = list(db.session.scalars(select(Case)))
    failures = []
    for actor in _actors(db, demo, world):
        visible = {c.id for c in cases if can_see(actor, c)}
        sets = _filter_sets(db, [c for c in cases if c.id in visible], actor, today)
        if actor.name not in EVERY_FILTER and actor.within is None:
            sets = sets[:1]  # the rest: the unfiltered list and every queue's count
        for values, kept in sets:
            expected = _ordered(cases, visible & kept)
            where, total, counted = _view(actor, values, today)
            if total != len(expected):
                failures.append((str(actor), values, "total", total, len(expected)))
            for per_page in (2, 3) if len(expected) <= 30 else (3,):
                forward, backward = _walk(actor, where, per_page, backwards=per_page == 3)
                if forward != expected or backward not in (expected, None):
                    failures.append((str(actor), values, per_page, forward[:8], backward[:8], expected[:8]))
            if not values:  # the tabs: each queue's count is its list's
                for key in QUEUE_KEYS:
                    queue = set(db.session.scalars(select(Case.id).where(queue_clause(actor, key, today))))
                    if counted.queues[key] != len(visible & queue):
                        failures.append((str(actor), key, counted.queues[key], len(visible & queue)))
    assert not failures, failures[:10]


def test_an_accusation_is_never_listed_or_counted_for_the_accused_unit(db, demo, world):
    today = today_shanghai()
    town, village = world["accused_town"], world["accused_village"]
    for who in ("qs.staff", "qs.leader", "qs01.g1", "qs01.head"):
        actor = demo.actor(who)
        hidden = [town] + ([village] if who == "qs01.g1" else [])
        for values in ({}, {"q": "攻击举报"}, {"queue": "new"}, {"queue": "working"}, {"kind": "petition"}):
            where, total, _ = _view(actor, values, today)
            listed = [i for i, _ in reach.page(actor, "case.read", limit=10000, where=where)]
            for case in hidden:
                assert case.id not in listed, (who, values)
                assert reach.count(actor, "case.read", where=reach.Where(case_ids=(case.id,))) == 0, who
            assert total == len(listed) == len(set(listed)), (who, values)
    head = demo.actor("qs01.head")  # the filer of an accusation against its own village: once, by the filer
    only = reach.Where(case_ids=(village.id,))
    assert reach.count(head, "case.read", where=only) == 1
    assert [i for i, _ in reach.page(head, "case.read", limit=5, where=only)] == [village.id]


def test_a_subtree_token_reaches_its_own_cases_only_inside(db, demo, world):
    today = today_shanghai()
    scoped = Actor.for_user(world["svc"], within=demo.unit("青石镇").path)
    where, total, _ = _view(scoped, {}, today)
    listed = [i for i, _ in reach.page(scoped, "case.read", limit=10000, where=where)]
    assert world["outside"].id not in listed and total == len(listed)
    li = Actor.for_user(demo.user("center.li"), within=demo.unit("青石镇").path)
    where, total, _ = _view(li, {}, today)
    listed = [i for i, _ in reach.page(li, "case.read", limit=10000, where=where)]
    assert world["outside"].id not in listed and world["accused_town"].id in listed and total == len(listed)


def test_the_list_view_says_how_many_it_lists(app, db, demo, world):
    from tests.conftest import login

    db.session.commit()
    for who in ("qs.staff", "center.li", "qs01.head"):
        client = app.test_client()
        login(client, who)
        for args in ("", "?queue=working", "?queue=awaiting_evaluation", "?overdue=1&queue=new", "?kind=petition"):
            html = client.get(f"/cases/{args}").get_data(as_text=True)
            total = int(re.search(r"共 (\d+) 件", html).group(1))
            actor = demo.actor(who)
            values = dict(a.split("=") for a in args[1:].split("&")) if args else {}
            where, _, _ = _view(actor, values, today_shanghai())
            assert total == len(reach.page(actor, "case.read", limit=10000, where=where)), (who, args)


def test_the_department_desk_links_its_live_assignments(db, demo):
    from center.departments.operations import allowed_departments, dispatch
    from center.departments.queries import desk_queues

    case = make_case(demo, "qs.staff", "青石镇", summary="攻击部门工作台")
    department = next(d for d in allowed_departments(case) if d.kind == "resident")
    dispatch(case, department, actor=demo.actor("qs.staff"), task="请派员参与调解")
    db.session.flush()
    member = next(m.user for m in db.session.scalars(select(Membership).where(
        Membership.department_id == department.id)) if m.is_effective)
    got = desk_queues(Actor.for_user(member), [department])
    assert any(r["case"].id == case.id for q in got["queues"].values() for r in q["active"] + q["queued"]
               + q["summoned"])
    assert case.id in got["visible_ids"] and case in got["live_cases"]
