"""Desk queues: 新登记 / 办理中 / 临期 / 超期 / 待评价, counted in SQL inside the actor's jurisdiction, with the
same deadline colours the lists show, and the desks linking each count to the case list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from center.cases.listing.queues import QUEUE_KEYS, desk_cases, queue_clause, queue_counts
from center.cases.models import Case, CaseStatus
from center.cases.presenters import next_deadlines, today_shanghai
from center.cases.queries import cases_query
from core.actor import Actor


def text(response) -> str:
    return response.get_data(as_text=True)


def case_by_summary(db, summary: str) -> Case:
    return db.session.scalar(select(Case).where(Case.summary == summary))


def members(db, actor, key, today):
    return set(db.session.scalars(cases_query(actor).with_only_columns(Case.id)
                                  .where(queue_clause(actor, key, today))))


@pytest.mark.parametrize("shift", [0, 5, 12, 20, 45, 70])
def test_queue_colours_in_sql_match_the_colours_the_lists_show(db, demo, shift):
    """临期 and 超期 are the colours of presenters.next_deadlines, computed in SQL, on several pinned days."""
    system = Actor.system("test")
    today = today_shanghai() + timedelta(days=shift)
    cases = list(db.session.scalars(select(Case)))
    colours = next_deadlines(cases, today)
    done = {CaseStatus.closed, CaseStatus.evaluated, CaseStatus.not_accepted, CaseStatus.guided_to_legal,
            CaseStatus.terminated}
    open_ids = {c.id for c in cases if c.status not in done}
    expected_red = {i for i, d in colours.items() if d.colour == "red" and i in open_ids}
    expected_yellow = {i for i, d in colours.items() if d.colour == "yellow" and i in open_ids}
    assert members(db, system, "overdue", today) == expected_red
    assert members(db, system, "due_soon", today) == expected_yellow
    if shift == 0:
        assert expected_red and expected_yellow, "the demo has cases near and past their deadlines"


def test_status_queues(db, demo):
    system = Actor.system("test")
    today = today_shanghai()
    by_status = {}
    for c in db.session.scalars(select(Case)):
        by_status.setdefault(c.status, set()).add(c.id)
    working = set().union(*(by_status.get(s, set()) for s in (
        CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.mediating, CaseStatus.reopened,
        CaseStatus.answered)))
    assert members(db, system, "working", today) == working
    assert members(db, system, "awaiting_evaluation", today) == by_status[CaseStatus.closed]


def test_new_means_waiting_for_my_own_unit(db, demo):
    """新登记: registered, escalated or handed down TO the actor's unit — not merely somewhere below it."""
    today = today_shanghai()
    escalated = case_by_summary(db, "二十余名务工人员讨要工程款")   # 青石村 → 上报 青石镇
    handed = case_by_summary(db, "两户因宅基地界址发生争议")         # 青石镇 → 交办 青石村
    grid = case_by_summary(db, "邻里因排水沟堵塞发生争执")           # filed by a grid worker, handled at 青石村
    township_new = members(db, demo.actor("qs.staff"), "new", today)
    village_new = members(db, demo.actor("qs01.head"), "new", today)
    assert escalated.id in township_new and escalated.id not in village_new
    assert handed.id in village_new and handed.id not in township_new
    assert grid.id in village_new
    assert not members(db, demo.actor("cg.staff"), "new", today) & (township_new | village_new)


def test_counts_are_one_statement_per_way_in_and_never_count_foreign_rows(db, demo):
    """Two statements per way in (center.cases.reach.arms: the unit, the person, the filer) — the open
    queues summed over the open rows, 待评价 counted over its status range — whatever the number of cases,
    never one per case."""
    from center.cases.reach import arms

    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    actor = demo.actor("qs.staff")
    assert actor.memberships[0].unit.path  # loaded before counting
    event.listen(Engine, "before_cursor_execute", count)
    try:
        counts = queue_counts(actor)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len([s for s in statements if "FROM case_reach" in s]) == 2 * len(arms(actor, "case.read")) == 6, \
        statements
    assert set(counts) == set(QUEUE_KEYS) and sum(counts.values()) > 0
    # the 检举控告 against 上坝村 is invisible to its own cadres: in no queue of theirs
    accusation = case_by_summary(db, "举报上坝村村务公开不实、账目不清")
    today = today_shanghai()
    for user in ("qs02.head", "qs02.cadre"):
        actor = demo.actor(user)
        for key in QUEUE_KEYS:
            assert accusation.id not in members(db, actor, key, today)
    assert accusation.id in members(db, demo.actor("qs.staff"), "new", today)
    other = queue_counts(demo.actor("cg.staff"))
    assert other != counts


DESKS = [("center.li", "/center/", "示范区社会矛盾纠纷调处化解中心", "示范区"),
         ("qs.staff", "/township/", "青石镇矛盾纠纷调处化解中心", "青石镇"),
         ("qs01.head", "/village/", "青石村", "青石村")]


@pytest.mark.parametrize(("user", "path", "marker", "unit"), DESKS, ids=[d[0] for d in DESKS])
def test_each_desk_shows_its_queues_linked_to_the_case_list(signed_in, demo, db, user, path, marker, unit):
    client = signed_in(user)
    page = text(client.get(path))
    assert marker in page
    actor = demo.actor(user)
    expected = desk_cases(actor, unit=demo.unit(unit))["queue_counts"]
    for label in ("新登记", "办理中", "临期", "超期", "待评价"):
        assert label in page
    unit_id = demo.unit(unit).id
    for key, number in expected.items():
        link = re.search(rf'href="(/cases/\?[^"]*queue={key}[^"]*)"[^>]*>\s*<div class="num">(\d+)</div>', page)
        assert link, key
        assert int(link.group(2)) == number
        assert f"unit={unit_id}" in link.group(1)
        listing = text(client.get(link.group(1).replace("&amp;", "&")))
        assert f"共 {number} 件" in listing, (key, number)


def test_mobile_home_still_lists_the_grid_workers_cases(signed_in):
    page = text(signed_in("qs01.g1").get("/m/"))
    assert "邻里因排水沟堵塞发生争执" in page


@pytest.mark.parametrize("who", ["qs.staff", "center.li", "qs01.head", "qs01.g1", "sifa.liaison"])
def test_the_lists_tally_is_its_counts_and_its_total(db, demo, who):
    """The list reads its total from the tally of its queues (open rows plus done rows): the same figures
    as counting the list and each queue on its own."""
    from center.cases import reach
    from center.cases.listing.queues import tally

    actor = demo.actor(who)
    today = today_shanghai()
    whole = tally(actor, today=today, with_total=True)
    assert whole.queues == tally(actor, today=today).queues
    assert whole.total == reach.count(actor, "case.read") > 0
    assert whole.open == reach.count(actor, "case.read", where=reach.EVERYTHING.and_rows(reach.is_open))
    for key in QUEUE_KEYS:
        assert whole.queues[key] == len(members(db, actor, key, today)), key
