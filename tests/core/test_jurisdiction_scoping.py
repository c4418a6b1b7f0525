"""Jurisdiction underneath the pages: core.auth.scoping (the subtree clause and its prefix trap, unit
filters), core.auth.permissions (can / require), the scoped getters, and a property test that the subtree
filter is exactly the descendants. (The web pages: ``test_jurisdiction_pages``.)

Village A = 青石村 (qs01.*), village B = 上坝村 (qs02.*), both under 青石镇; the other township is 城关街道.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.accounts.models import Role
from core.actor import Actor
from core.auth.permissions import can, require
from core.auth.scoping import subtree_clause, unit_filter
from core.errors import NotFound, PermissionDenied
from core.org.models import OrgUnit, UnitKind
from tests.core.jurisdiction_helpers import (
    A,
    B,
    all_units,
    ids_under,
    make_user,
    subtree,
    transient_actor,
)

# --- core.auth.scoping ----------------------------------------------------------------------------------

TRAP_PATHS = ["/1/", "/1/1/", "/1/2/", "/1/10/", "/1/10/7/", "/1/100/", "/1/100/3/", "/1/101/",
              "/10/", "/10/1/", "/100/", "/11/", "/2/", "/2/10/"]


@pytest.fixture()
def trap_units(db):
    """Units whose paths sit on the prefix trap (ids 1 / 10 / 100), flushed, never committed."""
    units = {}
    for i, path in enumerate(TRAP_PATHS):
        unit = OrgUnit(kind=UnitKind.grid, code=f"PT-{i:02d}", name=f"陷阱{i}", path=path,
                       depth=path.count("/") - 2)
        db.session.add(unit)
        units[path] = unit
    db.session.flush()
    return units


@pytest.mark.parametrize(("prefix", "expected"), [
    ("/1/", {"/1/", "/1/1/", "/1/2/", "/1/10/", "/1/10/7/", "/1/100/", "/1/100/3/", "/1/101/"}),
    ("/1/1/", {"/1/1/"}),
    ("/1/10/", {"/1/10/", "/1/10/7/"}),
    ("/1/100/", {"/1/100/", "/1/100/3/"}),
    ("/10/", {"/10/", "/10/1/"}),
    ("/100/", {"/100/"}),
    ("/2/", {"/2/", "/2/10/"}),
    ("/1/10/7/", {"/1/10/7/"}),
    ("/9/", set()),
])
def test_subtree_clause_does_not_fall_into_the_prefix_trap(prefix, expected, db, trap_units):
    rows = set(db.session.scalars(select(OrgUnit.path).where(OrgUnit.code.startswith("PT-"),
                                                              subtree_clause(OrgUnit.path, prefix))))
    assert rows == expected
    assert rows == {p for p in TRAP_PATHS if p.startswith(prefix)}


@pytest.mark.parametrize(("scopes", "expected"), [
    (["/1/"], {"/1/", "/1/1/", "/1/2/", "/1/10/", "/1/10/7/", "/1/100/", "/1/100/3/", "/1/101/"}),
    (["/1/10/"], {"/1/10/", "/1/10/7/"}),
    (["/1/10/", "/1/100/"], {"/1/10/", "/1/10/7/", "/1/100/", "/1/100/3/"}),
    (["/1/", "/1/10/"], {"/1/", "/1/1/", "/1/2/", "/1/10/", "/1/10/7/", "/1/100/", "/1/100/3/", "/1/101/"}),
    (["/1/1/", "/10/"], {"/1/1/", "/10/", "/10/1/"}),
    (["/100/", "/2/10/"], {"/100/", "/2/10/"}),
])
def test_unit_filter_unions_the_membership_subtrees(scopes, expected, db, trap_units):
    actor = transient_actor(*(trap_units[p] for p in scopes))
    rows = set(db.session.scalars(select(OrgUnit.path).where(OrgUnit.code.startswith("PT-"),
                                                              unit_filter(actor, "org.view", OrgUnit.path))))
    assert rows == expected


@pytest.mark.parametrize(("username", "action", "root"), [
    ("qs01.head", "org.view", A),
    ("qs01.cadre", "case.read", A),
    ("qs02.cadre", "org.view", B),
    ("qs.leader", "org.view", "青石镇"),
    ("qs.center", "desk.township", "青石镇"),
    ("cg.staff", "case.intake", "城关街道"),
    ("qs01.g1", "case.read", f"{A}第1网格"),
    ("leader.wang", "org.view", "示范区"),
    ("admin", "org.manage", "示范区"),
    ("qs01.head", "org.manage", None),  # the role lacks the action: nothing, not everything
    ("qs01.g1", "org.view", None),
    ("xinfang.liaison", "case.read", None),  # department membership: no units
    ("qs.leader", "desk.district", None),
])
def test_unit_filter_for_demo_users(username, action, root, demo, db):
    actor = demo.actor(username)
    expected = {u.id for u in subtree(demo.unit(root))} if root else set()
    assert ids_under(db, actor, action) == expected


def test_unit_filter_edge_actors(demo, db):
    everything = {u.id for u in all_units(db)}
    assert ids_under(db, Actor.system("cli"), "org.manage") == everything
    nobody = Actor(user=demo.user("qs01.head"), memberships=())  # a user whose memberships all lapsed
    assert ids_under(db, nobody, "org.view") == set()
    # nested memberships collapse into the outer subtree; disjoint ones add up
    qs, a, b = demo.unit("青石镇"), demo.unit(A), demo.unit(B)
    assert ids_under(db, transient_actor(qs, a), "org.view") == {u.id for u in subtree(qs)}
    assert ids_under(db, transient_actor(a, b), "org.view") == {u.id for u in subtree(a) + subtree(b)}


def test_inactive_membership_and_inactive_unit_grant_nothing(demo, db):
    from core.audit.operations import record

    user = demo.user("qs01.head")
    user.memberships[0].is_active = False
    record(Actor.system("cli"), "test.membership_ended", user.memberships[0], changed=["is_active"])
    db.session.flush()
    assert Actor.for_user(user).memberships == ()
    assert ids_under(db, Actor.for_user(user), "org.view") == set()

    grid_user = demo.user("qs01.g1")
    grid = grid_user.memberships[0].unit
    grid.is_active = False
    db.session.flush()
    assert Actor.for_user(grid_user).memberships == ()
    assert not can(Actor.for_user(grid_user), "case.read", grid)


# --- core.auth.permissions ------------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "action", "target", "allowed"), [
    ("qs01.head", "org.view", ("unit", A), True),
    ("qs01.head", "org.view", ("unit", f"{A}第2网格"), True),
    ("qs01.head", "org.view", ("unit", B), False),
    ("qs01.head", "org.view", ("unit", f"{B}第1网格"), False),
    ("qs01.head", "org.view", ("unit", "青石镇"), False),  # jurisdiction runs down the tree, not up
    # case decisions are registered with relations to a case: a bare unit gives none (seeing is not deciding)
    ("qs01.head", "case.approve", ("unit", A), False),
    ("qs01.cadre", "case.approve", ("unit", A), False),
    ("qs01.head", "org.manage", ("unit", A), False),
    ("qs.leader", "org.view", ("unit", B), True),
    ("qs.leader", "org.view", ("unit", "城关街道"), False),
    ("qs.leader", "org.view", ("unit", "文昌社区"), False),
    ("qs.leader", "org.view", ("dept", "青石镇派出所"), True),
    ("qs.leader", "org.view", ("dept", "城关街道派出所"), False),
    ("qs.leader", "org.view", ("dept", "区信访局"), False),
    ("qs.leader", "org.view", ("user", "qs02.cadre"), True),
    ("qs.leader", "org.view", ("user", "cg01.g1"), False),
    ("qs01.g1", "case.read", ("unit", f"{A}第1网格"), True),
    ("qs01.g1", "case.read", ("unit", f"{A}第2网格"), False),
    ("qs01.g1", "case.read", ("unit", A), False),
    ("xinfang.liaison", "desk.department", ("dept", "区信访局"), True),
    ("xinfang.liaison", "case.read", ("dept", "区信访局"), True),
    ("xinfang.liaison", "desk.department", ("dept", "区司法局"), False),
    ("xinfang.liaison", "case.read", ("unit", "示范区"), False),
    ("xinfang.liaison", "case.read", ("user", "xinfang.head"), True),
    ("xinfang.liaison", "case.read", ("user", "sifa.head"), False),
    ("leader.wang", "org.view", ("unit", f"{B}第4网格"), True),
    ("leader.wang", "org.view", ("dept", "白云乡综治办"), True),
    ("leader.wang", "org.manage", ("unit", B), False),
    ("admin", "org.manage", ("unit", B), True),
    ("admin", "user.manage", ("user", "qs02.cadre"), True),
    ("admin", "case.read", ("unit", B), False),  # 三权分立: the system admin reads no cases
    ("secadmin", "org.manage", ("unit", B), False),
    ("auditor", "audit.read", None, True),
    ("auditor", "user.view", None, False),
])
def test_can_table(username, action, target, allowed, demo):
    obj = None
    if target is not None:
        kind, name = target
        obj = {"unit": demo.unit, "dept": demo.department, "user": demo.user}[kind](name)
        assert obj is not None, target
    actor = demo.actor(username)
    assert can(actor, action, obj) is allowed
    if allowed:
        require(actor, action, obj)
    else:
        with pytest.raises(PermissionDenied) as info:
            require(actor, action, obj)
        assert info.value.status == 403 and info.value.action == action


def test_require_raises_permission_denied_for_a_visible_object(demo):
    """Visible (loads through the scoped query) but not permitted: 403, not 404."""
    from core.org import queries

    actor = demo.actor("qs01.cadre")
    village = queries.get_unit_or_404(demo.unit(A).id, actor=actor)
    with pytest.raises(PermissionDenied):
        require(actor, "org.manage", village)
    with pytest.raises(PermissionDenied):
        require(actor, "case.approve", village)
    require(Actor.system("cli"), "org.manage", village)  # the system actor may do anything


# --- scoped getters -------------------------------------------------------------------------------------

BAD_IDS = ["abc", "", " ", None, "1.5", "1e3", "0x1", "1 OR 1=1", "1;--", [], {}, object()]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_getters_answer_not_found_for_non_integer_ids(bad, demo):
    from core.accounts.queries import get_user_or_404
    from core.org.queries import get_department_or_404, get_unit_or_404

    admin = demo.actor("admin")
    for getter in (get_unit_or_404, get_user_or_404, get_department_or_404):
        with pytest.raises(NotFound):
            getter(bad, actor=admin)
        with pytest.raises(NotFound):
            getter(bad, actor=Actor.system("cli"))


def test_get_unit_or_404(demo):
    from core.org.queries import get_unit_or_404

    a, b = demo.unit(A), demo.unit(B)
    actor = demo.actor("qs01.head")
    assert get_unit_or_404(a.id, actor=actor) is a
    assert get_unit_or_404(str(a.id), actor=actor) is a
    for unit_id in (b.id, str(b.id), b.parent_id, a.parent_id, 987654321, -1, 0):
        with pytest.raises(NotFound):
            get_unit_or_404(unit_id, actor=actor)
    with pytest.raises(NotFound):  # visible for org.view, but not held for org.manage
        get_unit_or_404(a.id, actor=actor, action="org.manage")
    assert get_unit_or_404(b.id, actor=demo.actor("qs.leader")) is b
    assert get_unit_or_404(b.id, actor=Actor.system("cli")) is b
    with pytest.raises(NotFound):
        get_unit_or_404(b.id, actor=demo.actor("cg.leader"))


def test_get_user_or_404(demo, db):
    from core.accounts.queries import get_user_or_404

    victim, own = demo.user("qs02.cadre"), demo.user("qs01.g1")
    assert get_user_or_404(victim.id, actor=demo.actor("admin")) is victim
    assert get_user_or_404(str(victim.id), actor=demo.actor("secadmin")) is victim
    make_user(db, "qs01.admin", Role.system_admin, demo.unit(A))
    scoped = demo.actor("qs01.admin")
    assert get_user_or_404(own.id, actor=scoped) is own
    for user_id in (victim.id, demo.user("cg01.g1").id, demo.user("admin").id, demo.user("xinfang.head").id, 987654321):
        with pytest.raises(NotFound):
            get_user_or_404(user_id, actor=scoped)
    for username in ("qs01.head", "qs.leader", "leader.wang", "auditor"):  # no user.view at all
        with pytest.raises(NotFound):
            get_user_or_404(own.id, actor=demo.actor(username))


def test_get_department_or_404(demo):
    from core.org.queries import get_department_or_404

    qs_dept, cg_dept, district_dept = (demo.department(n) for n in ("青石镇司法所", "城关街道司法所", "区信访局"))
    qs = demo.actor("qs.leader")
    assert get_department_or_404(qs_dept.id, actor=qs) is qs_dept
    assert get_department_or_404(str(qs_dept.id), actor=qs) is qs_dept
    for dept in (cg_dept, district_dept):
        with pytest.raises(NotFound):
            get_department_or_404(dept.id, actor=qs)
    for dept in (qs_dept, cg_dept, district_dept):
        with pytest.raises(NotFound):
            get_department_or_404(dept.id, actor=demo.actor("qs01.head"))  # village: no departments below
        assert get_department_or_404(dept.id, actor=demo.actor("leader.wang")) is dept
    with pytest.raises(NotFound):
        get_department_or_404(987654321, actor=Actor.system("cli"))


# --- property: the subtree filter is exactly the descendants --------------------------------------------

CHILD_KINDS = {UnitKind.district: [UnitKind.township], UnitKind.township: [UnitKind.village, UnitKind.community],
               UnitKind.village: [UnitKind.grid], UnitKind.community: [UnitKind.grid], UnitKind.grid: []}


@st.composite
def forests(draw):
    """A random small forest: node i is (parent index or None for a new district root, kind)."""
    nodes = [(None, UnitKind.district)]
    for _ in range(draw(st.integers(0, 14))):
        options = [None] + [j for j, (_, kind) in enumerate(nodes) if CHILD_KINDS[kind]]
        parent = draw(st.sampled_from(options))
        kind = UnitKind.district if parent is None else draw(st.sampled_from(CHILD_KINDS[nodes[parent][1]]))
        nodes.append((parent, kind))
    return nodes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=forests())
def test_subtree_filter_is_exactly_the_descendants(nodes, db, demo):
    from core.org.operations import create_unit
    from core.org.queries import list_units

    actor = Actor.system("cli")
    savepoint = db.session.begin_nested()
    try:
        demo_district = demo.unit("示范区")
        units = []
        for i, (parent, kind) in enumerate(nodes):
            code = f"GRID-P{i:03d}" if kind == UnitKind.grid else f"88{i:02d}00000000"
            units.append(create_unit(kind=kind, code=code, name=f"随机{i}", parent=None if parent is None else units[parent],
                                     actor=actor, case_prefix=f"P{chr(65 + i % 26)}{chr(65 + i // 26)}", audit=False))
        descendants = {i: {i} for i in range(len(nodes))}
        for i in reversed(range(len(nodes))):  # parents come before children in the list
            parent = nodes[i][0]
            if parent is not None:
                descendants[parent] |= descendants[i]
        for i, unit in enumerate(units):
            expected = {units[j].id for j in descendants[i]}
            found = set(db.session.scalars(select(OrgUnit.id).where(subtree_clause(OrgUnit.path, unit.path))))
            assert found == expected, (nodes, i)
            scoped = transient_actor(unit, role=Role.district_leader)
            assert {u.id for u in list_units(scoped, include_inactive=True, limit=100)} == expected
        # the demo district still holds exactly its own tree: no new root slipped under it
        children = {}
        for unit_id, parent_id in db.session.execute(select(OrgUnit.id, OrgUnit.parent_id)):
            children.setdefault(parent_id, []).append(unit_id)
        expected, stack = set(), [demo_district.id]
        while stack:
            expected.add(stack[-1])
            stack.extend(children.get(stack.pop(), []))
        found = set(db.session.scalars(select(OrgUnit.id).where(subtree_clause(OrgUnit.path, demo_district.path))))
        assert found == expected and len(expected) > 200
    finally:
        savepoint.rollback()
