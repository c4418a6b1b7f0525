"""Attacker tests: the scope table ``case_reach`` (center.cases.reach) — moves, the 检举控告 rule through every
arm, service-token subtrees, forged pager cursors, full-text search syntax, desk counts against their lists.

Each test is an attack that must fail; a test marked xfail(strict=True) is a HOLE (its reason says which)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token
from tests.core.attack5_support import _bearer, _numbers, _own_token, _search, _service_token
from tests.factories import make_case, make_user

WATCHERS = ("qs.staff", "qs.leader", "qs01.head", "qs01.g1", "lh.staff", "cg.staff", "center.li", "leader.wang",
            "xinfang.liaison", "sifa.liaison", "renshe.liaison")


def _reach_sees(demo, actor, case_id: int) -> tuple[bool, bool, bool]:
    """(cases_query, reach.count, reach.page) for one case."""
    from center.cases import reach
    from center.cases.models import Case
    from center.cases.queries import cases_query

    only = reach.Where(case_ids=(case_id,))
    in_query = demo.db.session.scalar(cases_query(actor).where(Case.id == case_id).with_only_columns(Case.id))
    counted = reach.count(actor, "case.read", where=only)
    paged = [i for i, _ in reach.page(actor, "case.read", limit=5, where=only)]
    return in_query is not None, counted == 1, paged == [case_id]


def _agree(demo, case, users=WATCHERS, actors=()) -> dict[str, bool]:
    """Every arm of the reader agrees with ``can_see`` for each user; returns who sees the case."""
    from center.cases.queries import can_see

    demo.db.session.flush()
    out = {}
    for who in [*users, *actors]:
        actor = demo.actor(who) if isinstance(who, str) else who
        expected = can_see(actor, case)
        assert _reach_sees(demo, actor, case.id) == (expected,) * 3, (str(actor), expected)
        out[str(actor)] = expected
    return out


def _totals_agree(demo, who: str) -> None:
    """A user's whole list: the reach count equals the scoped query's count and can_see over every case."""
    from center.cases import reach
    from center.cases.models import Case
    from center.cases.queries import can_see, cases_query

    actor = demo.actor(who)
    session = demo.db.session
    scoped = set(session.scalars(cases_query(actor).with_only_columns(Case.id)))
    assert reach.count(actor, "case.read") == len(scoped), who
    assert {c.id for c in session.scalars(select(Case)) if can_see(actor, c)} == scoped, who
    paged = {i for i, _ in reach.page(actor, "case.read", limit=len(scoped) + 5)}
    assert paged == scoped, who


# --- 1. moves: the old holder loses sight exactly when can_see says so --------------------------------------


def test_every_move_keeps_query_count_page_and_can_see_in_step(db, demo):
    from center.cases.lifecycle.operations import transition
    from center.cases.routing.operations import assign_owner, regrade
    from center.departments.operations import allowed_departments, dispatch, withdraw

    case = make_case(demo, "qs01.g1", "青石村第1网格", summary="移动攻击：邻里排水纠纷", colour="red")
    seen = _agree(demo, case)
    assert seen["qs01.head"] and not seen["lh.staff"] and seen["qs01.g1"]
    for who in ("qs01.head", "qs.staff"):  # village accepts and 上报s, township accepts and 上报s
        transition(case, "accept", actor=demo.actor(who))
        _agree(demo, case)
        transition(case, "escalate", actor=demo.actor(who))
        _agree(demo, case)
    assert case.handling_unit.name == "示范区"
    transition(case, "accept", actor=demo.actor("center.li"))
    seen = _agree(demo, case)
    assert seen["center.li"] and seen["qs.staff"] and not seen["lh.staff"]  # the origin keeps its sight
    dept = next(d for d in allowed_departments(case) if d.name.endswith("司法局"))
    a = dispatch(case, dept, actor=demo.actor("center.li"), task="请司法局协助调解")
    assert _agree(demo, case)["sifa.liaison"]
    withdraw(a, actor=demo.actor("center.li"), reason="无需协助")
    assert not _agree(demo, case)["sifa.liaison"]  # the withdrawn department loses it at once
    leader = demo.user("leader.wang")
    assign_owner(case, actor=demo.actor("center.li"), owner_leader=leader)
    assert _agree(demo, case)["leader.wang"]
    regrade(case, "blue", actor=demo.actor("center.li"), reason="风险降低")
    _agree(demo, case)
    for who in ("qs.staff", "center.li", "sifa.liaison", "qs01.g1"):
        _totals_agree(demo, who)


def test_an_assignee_replaced_and_an_owner_released_lose_the_person_arm(db, demo):
    """Set through the ORM (as any operation does): the person rows follow at the next flush."""
    case = make_case(demo, "lh.staff", "柳河镇", summary="承办人替换攻击", colour="red")
    case.assignee = demo.user("qs.staff")  # a foreign clerk made assignee reaches it through the person arm
    case.owner_leader = demo.user("cg.leader")
    assert _agree(demo, case, ("qs.staff", "cg.leader", "cg.staff")) == \
        {"qs.staff": True, "cg.leader": True, "cg.staff": False}
    case.assignee = demo.user("cg.staff")
    case.owner_leader = None
    assert _agree(demo, case, ("qs.staff", "cg.leader", "cg.staff")) == \
        {"qs.staff": False, "cg.leader": False, "cg.staff": True}


def test_a_case_ended_stays_in_its_holders_lists_and_counts(db, demo):
    from center.cases import reach
    from center.cases.lifecycle.operations import transition

    case = make_case(demo, "qs.staff", "青石镇", summary="终结后可见性")
    transition(case, "not_accept", actor=demo.actor("qs.staff"), note="不属于受理范围")
    assert _agree(demo, case)["qs.staff"]
    open_only = reach.Where(rows=(reach.is_open,), case_ids=(case.id,))
    assert reach.count(demo.actor("qs.staff"), "case.read", where=open_only) == 0  # listed after the open ones
    _totals_agree(demo, "qs.staff")


# --- 2. the 检举控告 rule through every arm and every count --------------------------------------------------


def _accusation(demo, summary="检举青石镇干部违规发放补贴（攻击）", applicant="举报人庚"):
    return make_case(demo, "center.li", "青石村", kind="petition", petition_class="accusation", accused="青石镇",
                     summary=summary, applicant=applicant, repeat_of="none")


def test_an_accusation_is_not_counted_for_the_accused_units_users(db, demo):
    """A count that moves by one reveals the accusation: every count of every 青石镇 user stays the same."""
    from center.cases import reach
    from center.cases.listing.queues import queue_counts

    accused_users = ("qs.staff", "qs.leader", "qs.center", "qs01.head", "qs01.cadre", "qs01.g1")
    before = {u: (reach.count(demo.actor(u), "case.read"), queue_counts(demo.actor(u))) for u in accused_users}
    case = _accusation(demo)
    db.session.flush()
    after = {u: (reach.count(demo.actor(u), "case.read"), queue_counts(demo.actor(u))) for u in accused_users}
    assert before == after
    seen = _agree(demo, case, (*accused_users, "center.li", "lh.staff"))
    assert seen["center.li"] and not any(seen[u] for u in accused_users)


def test_an_accusation_stays_hidden_through_the_person_and_department_arms(db, demo):
    """Forced through the ORM: the accused township's clerk as assignee, its leader as 包案, a department of
    青石镇 as handling organ — none of these arms shows the case to the accused unit's people."""
    from core.org.models import Department

    case = _accusation(demo)
    qs_dept = db.session.scalar(select(Department).where(Department.unit_id == demo.unit("青石镇").id))
    liaison = make_user(demo, "qs.dept.attack", role="department_liaison", place=qs_dept)
    case.assignee = demo.user("qs.staff")
    case.owner_leader = demo.user("qs.leader")
    case.handling_department = qs_dept
    seen = _agree(demo, case, ("qs.staff", "qs.leader", "qs01.g1", "center.li"), (demo.actor(liaison.username),))
    assert not seen["qs.staff"] and not seen["qs.leader"] and not seen[liaison.username]
    for who in ("qs.staff", "qs.leader"):
        _totals_agree(demo, who)


def test_an_accusation_filed_by_an_accused_units_user_stays_with_the_filer_only(db, demo):
    case = make_case(demo, "qs.staff", "青石村", kind="petition", petition_class="accusation", accused="青石村",
                     summary="检举村委会（乡镇登记）", repeat_of="none")
    seen = _agree(demo, case, ("qs.staff", "qs01.head", "qs01.g1", "qs.leader"))
    assert seen == {"qs.staff": True, "qs01.head": False, "qs01.g1": False, "qs.leader": True}


def test_the_api_total_and_search_by_the_accusers_name_reveal_nothing(app, db, demo):
    client = app.test_client()
    headers = {u: _bearer(_own_token(demo, u)) for u in ("qs.staff", "qs01.g1", "center.li")}
    totals = {u: client.get("/api/v1/cases?limit=1", headers=h).get_json()["total"] for u, h in headers.items()}
    case = _accusation(demo, applicant="举报人辛")
    db.session.commit()
    for who in ("qs.staff", "qs01.g1"):
        assert client.get("/api/v1/cases?limit=1", headers=headers[who]).get_json()["total"] == totals[who]
        for q in ("举报人辛", "举报人", "辛", "违规发放", case.number):
            assert case.number not in _search(client, q, headers[who]), (who, q)
    assert client.get("/api/v1/cases?limit=1", headers=headers["center.li"]).get_json()["total"] \
        == totals["center.li"] + 1
    assert case.number in _search(client, "举报人辛", headers["center.li"])


# --- 3. a service token's subtree against the person, filer and department arms ----------------------------


def test_a_township_token_does_not_reach_outside_through_the_person_arm(app, db, demo):
    account = make_user(demo, "svc.reach", kind="service",
                        memberships=[("township_staff", "青石镇"), ("township_staff", "柳河镇")])
    outside = make_case(demo, "lh.staff", "柳河镇", summary="子树外：服务账户为承办人", colour="red")
    outside.assignee = account
    outside.owner_leader = account
    inside = make_case(demo, "qs.staff", "青石镇", summary="子树内事项（令牌）")
    db.session.commit()
    plain = _service_token(demo, account, ["cases.read"], "青石镇")
    client = app.test_client()
    listed = client.get("/api/v1/cases?limit=100", headers=_bearer(plain))
    assert outside.number not in _numbers(listed) and inside.number in _numbers(listed)
    assert client.get(f"/api/v1/cases/{outside.number}", headers=_bearer(plain)).status_code == 404
    assert outside.number not in _search(client, "子树外", _bearer(plain))
    from core.actor import Actor

    scoped = Actor.for_user(account, within=demo.unit("青石镇").path)
    assert _agree(demo, outside, (), (scoped,)) == {str(scoped): False}
    total = listed.get_json()["total"]
    from center.cases.models import Case
    from center.cases.queries import cases_query

    assert total == db.session.scalar(select(func.count()).select_from(
        cases_query(scoped).with_only_columns(Case.id).subquery()))


# --- 4. forged pager cursors -----------------------------------------------------------------------------------

CURSORS = ("0.0.0", "1.0.0", "0.253402300799999999.2147483647", "1.253402300800000000.1", "0.-1.1", "2.1.1",
           "1.99999999999999999999.1", "0.1.99999999999", "abc", "", "0.1.1.1", "0%2E1%2E1", "１.1.1",
           "0.1734000000000000.1' OR 1=1--")


def test_forged_cursors_never_crash_the_list_or_show_another_townships_cases(client, db, demo, login_as):
    foreign = make_case(demo, "lh.staff", "柳河镇", summary="游标攻击外镇事项", commit=True)
    own = make_case(demo, "qs.staff", "青石镇", summary="游标攻击本镇事项", commit=True)
    login_as("qs.staff")
    for raw in CURSORS:
        for name in ("after", "before"):
            got = client.get(f"/cases/?{name}={raw}")
            assert got.status_code in (200, 422), (name, raw, got.status_code)
            html = got.get_data(as_text=True)
            assert foreign.number not in html, (name, raw)
    both = client.get("/cases/?after=0.1.1&before=0.1.1")
    assert both.status_code == 422
    assert own.number in client.get("/cases/?before=1.0.0").get_data(as_text=True)  # stale: from the start


def test_following_the_pager_visits_each_case_once(db, demo):
    from center.cases import reach

    for i in range(7):
        make_case(demo, "qs.staff", "青石镇", summary=f"翻页攻击{i}")
    db.session.flush()
    actor = demo.actor("qs.staff")
    everything = [i for i, _ in reach.page(actor, "case.read", limit=1000)]
    walked, cursor = [], None
    while True:
        rows = reach.page(actor, "case.read", limit=3, after=cursor)
        if not rows:
            break
        walked += [i for i, _ in rows]
        cursor = rows[-1][1]
    assert walked == everything
    back = reach.page(actor, "case.read", limit=3, before=reach.Cursor.parse(str(cursor)))
    assert [i for i, _ in back] == everything[-4:-1]  # the rows just before the cursor's own


# --- 5. search text against the full-text MATCH ---------------------------------------------------------------

ODD = ('"', '""', '"排水', "排水*", "*", "NEAR", "NEAR(排水 纠纷)", "AND", "OR", "NOT", "grams:排水", "chars:排",
       "{grams}:排水", "^排水", "-排水", "排水 OR 工资", "(", ")", "+", "case_terms_fts", "rowid", "排水\x00",
       "a" * 50, "排" * 50)


def _expected(db, actor, q: str) -> set[str]:
    from center.cases.models import Party
    from center.cases.queries import cases_query

    def hit(c) -> bool:
        names = [p.name for p in db.session.scalars(select(Party).where(Party.case_id == c.id))]
        return all(w in (c.summary or "") or c.number.startswith(w.upper()) or any(w in n for n in names)
                   for w in q.split())
    return {c.number for c in db.session.scalars(cases_query(actor)) if hit(c)}


def test_match_syntax_in_the_search_text_neither_crashes_nor_widens(app, db, demo):
    make_case(demo, "qs.staff", "青石镇", summary="语法攻击：排水沟堵塞纠纷", commit=True)
    client = app.test_client()
    headers = _bearer(_own_token(demo, "qs.staff"))
    actor = demo.actor("qs.staff")
    for q in ODD:
        got = client.post("/api/v1/cases/search", json={"q": q, "limit": 100}, headers=headers)
        assert got.status_code in (200, 400, 422), (q, got.status_code)  # 400: the edge refuses NUL
        if got.status_code == 200:
            assert _numbers(got) <= _expected(db, actor, q) | _expected(db, actor, re.sub(r"\W", "", q)), q


def test_match_syntax_through_the_html_search_form(client, db, demo, login_as):
    login_as("qs.staff")
    for q in ('"', "NEAR(排水 纠纷)", "grams:排水", "排水*", "zzbreak", '"" OR ""'):
        token = csrf_token(client, "/cases/")
        got = client.post("/cases/search", data={"q": q, "csrf_token": token}, follow_redirects=True)
        assert got.status_code == 200, (q, got.status_code)


def test_the_internal_break_token_matches_nothing(app, db, demo):
    make_case(demo, "qs.staff", "青石镇", summary="分隔符攻击", commit=True)
    client = app.test_client()
    headers = _bearer(_own_token(demo, "qs.staff"))
    assert _search(client, "zzbreak", headers) == set()
    assert _search(client, "ZZBREAK", headers) == set()


# --- 6. desk counts against the lists they head --------------------------------------------------------------


@pytest.mark.parametrize("who", ["qs.staff", "center.li", "sifa.liaison", "qs01.g1", "leader.wang"])
def test_queue_counts_equal_their_lists(db, demo, who):
    from center.cases import reach
    from center.cases.listing.queues import QUEUE_KEYS, queue_clause, queue_counts
    from center.cases.models import Case
    from center.cases.presenters import today_shanghai
    from center.cases.queries import cases_query

    make_case(demo, "qs.staff", "青石镇", summary="计数攻击", then=("accept",))
    _accusation(demo)
    db.session.flush()
    actor, today = demo.actor(who), today_shanghai()
    counts = queue_counts(actor, today=today)
    for key in QUEUE_KEYS:
        listed = set(db.session.scalars(cases_query(actor).where(queue_clause(actor, key, today))
                                        .with_only_columns(Case.id)))
        assert counts[key] == len(listed), (who, key)
        from center.cases.listing.queues import queue_row_clause

        where = reach.Where(rows=(lambda r, k=key: queue_row_clause(actor, k, today, r),))
        paged = {i for i, _ in reach.page(actor, "case.read", limit=len(listed) + 5, where=where)}
        assert paged == listed, (who, key)


def test_the_desk_of_one_township_counts_what_it_lists(db, demo):
    """A district leader's 青石镇 desk: its open count is the scoped query narrowed to 青石镇's subtree."""
    from center.cases.listing.queues import DONE, desk_cases, unit_scope
    from center.cases.models import Case
    from center.cases.queries import cases_query

    make_case(demo, "qs.staff", "青石镇", summary="分镇台账攻击")
    make_case(demo, "lh.staff", "柳河镇", summary="分镇台账攻击外")
    _accusation(demo)
    db.session.flush()
    for who in ("leader.wang", "qs.leader"):
        actor, township = demo.actor(who), demo.unit("青石镇")
        desk = desk_cases(actor, limit=1000, unit=township)
        listed = set(db.session.scalars(cases_query(actor).where(unit_scope(township),
                                                                 Case.status.not_in([s.value for s in DONE]))
                                        .with_only_columns(Case.id)))
        assert desk["open_count"] == len(listed), who
        assert {c.id for c in desk["cases"] if c.status not in DONE} == listed, who
