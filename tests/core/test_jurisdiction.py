"""Jurisdiction: nobody lists, reads or changes anything outside the subtrees (or departments) of their
memberships. Outside objects answer 404 — the same as a missing id — and never leak their data.

Village A = 青石村 (qs01.*), village B = 上坝村 (qs02.*), both under 青石镇; the other township is 城关街道.
Only system_admin holds org.manage / user.manage, and only at the district; to reach the jurisdiction check
of the write routes (rather than the route-level permission gate) some tests give a user a system_admin
membership at a village or a township, built directly (operations allow it at the district only).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.accounts.models import Membership, Role, User
from core.actor import Actor
from core.auth.permissions import can, require
from core.auth.scoping import subtree_clause, unit_filter, unit_or_department_filter
from core.errors import NotFound, PermissionDenied
from core.org.models import Department, OrgUnit, UnitKind
from tests.conftest import DEMO_PASSWORD, csrf_from

A, B = "青石村", "上坝村"


# --- helpers ---------------------------------------------------------------------------------------------



def token(client) -> str:
    """A CSRF token from any page of the layout (the logout form carries one)."""
    return csrf_from(client.get("/account").get_data(as_text=True))


def post(client, url, data=None):
    return client.post(url, data={"csrf_token": token(client), **(data or {})})


def text(response) -> str:
    return response.get_data(as_text=True)


def subtree(unit: OrgUnit) -> list[OrgUnit]:
    """The unit and its descendants, walked through parent links (not paths)."""
    out, stack = [], [unit]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def make_user(db, username: str, role: Role, place) -> User:
    """A user with one membership placed directly (with its audit row, as the guard demands)."""
    from core.accounts.passwords import hash_password
    from core.audit.operations import record

    user = User(username=username, display_name=f"测试{username}", password_hash=hash_password(DEMO_PASSWORD))
    user.memberships.append(Membership(role=role, unit=place if isinstance(place, OrgUnit) else None,
                                       department=place if isinstance(place, Department) else None))
    db.session.add(user)
    db.session.flush()
    record(Actor.system("cli"), "test.user_placed", user, changed=["memberships"])
    db.session.commit()
    return user


def transient_actor(*places, role=Role.township_leader) -> Actor:
    """An actor holding ``role`` at each unit, memberships not stored (scoping reads only role and unit)."""
    memberships = tuple(Membership(role=role, unit=u, unit_id=u.id) for u in places)
    return Actor(user=User(username="probe", display_name="probe"), memberships=memberships)


def all_units(db) -> list[OrgUnit]:
    return list(db.session.scalars(select(OrgUnit)))


def ids_under(db, actor, action) -> set[int]:
    return set(db.session.scalars(select(OrgUnit.id).where(unit_filter(actor, action, OrgUnit.path))))


# --- village A against village B (and the township's other villages) --------------------------------------

@pytest.mark.parametrize("viewer", ["qs01.head", "qs01.cadre"])
def test_village_user_gets_404_for_every_unit_outside_the_village(viewer, signed_in, demo):
    client = signed_in(viewer)
    village_a = demo.unit(A)
    township = village_a.parent
    own = {u.id for u in subtree(village_a)}
    outside = [u for u in subtree(township) if u.id not in own] + [township.parent, demo.unit("城关街道")]
    assert len(outside) > 30  # 9 other villages, their grids, the township, the district, another township
    for unit in outside:
        for url in (f"/admin/org/{unit.id}", f"/admin/org/{unit.id}?all=1"):
            response = client.get(url)
            assert response.status_code == 404, (url, unit.name)
            assert unit.name not in text(response)
            assert unit.code not in text(response)
    # the 404 is the same answer as for an id that does not exist at all
    missing = client.get("/admin/org/987654321")
    assert missing.status_code == 404
    assert client.get("/admin/org/abc").status_code == 404
    # control: their own village and its grids are readable
    for unit in subtree(village_a):
        response = client.get(f"/admin/org/{unit.id}")
        assert response.status_code == 200
        assert unit.name in text(response)
        assert B not in text(response)


def test_village_user_listings_do_not_include_the_other_village(signed_in, demo):
    client = signed_in("qs01.head")
    village_a, village_b = demo.unit(A), demo.unit(B)

    landing = client.get("/admin/org", follow_redirects=True)
    assert landing.status_code == 200
    assert A in text(landing) and B not in text(landing)
    assert "青石镇" not in text(landing)  # the township above is not shown either

    for q in ("坝", B, village_b.code, f"{B}第1网格", "990101101002"):
        page = text(client.get("/admin/org", query_string={"q": q}))
        assert "没有找到匹配的单位" in page, q  # (the heading echoes the query itself)
    for q in ("990101101", "网格", "村"):
        page = text(client.get("/admin/org", query_string={"q": q}))
        assert B not in page and village_b.code not in page and "下坝村" not in page, q
    by_code = text(client.get("/admin/org", query_string={"q": "990101101"}))
    assert A in by_code and village_a.code in by_code  # the search does work inside the jurisdiction

    departments = text(client.get("/admin/departments"))
    assert "暂无部门" in departments
    assert "青石镇司法所" not in departments and "区信访局" not in departments

    desk = client.get("/village/")
    assert desk.status_code == 200
    assert f"{A}第1网格" in text(desk) and B not in text(desk)
    assert client.get("/village/", query_string={"unit": village_b.id}).status_code == 404
    assert client.get("/township/").status_code == 403  # no township desk at all


@pytest.mark.parametrize("viewer", ["qs01.head", "qs01.cadre"])
def test_village_user_cannot_change_the_other_village(viewer, signed_in, demo, db):
    client = signed_in(viewer)
    village_a, village_b = demo.unit(A), demo.unit(B)
    grid_b = village_b.children[0]
    before = {u.id: (u.name, u.code, u.is_active) for u in subtree(village_b)}
    for target in (village_b, grid_b):
        for url, data in ((f"/admin/org/{target.id}/edit", {"code": target.code, "name": "被篡改"}),
                          (f"/admin/org/{target.id}/disable", {}),
                          (f"/admin/org/{target.id}/new", {"kind": "grid", "code": "X-1", "name": "被插入"})):
            response = post(client, url, data)
            # village roles hold no org.manage at all: the route gate answers before any object is loaded,
            # with the same status for their own village (no existence oracle) and never with B's data
            own = post(client, url.replace(f"/{target.id}/", f"/{village_a.id}/"), data)
            assert response.status_code == own.status_code == 403, url
            assert target.name not in text(response)
    db.session.expire_all()
    assert {u.id: (u.name, u.code, u.is_active) for u in subtree(db.session.get(OrgUnit, village_b.id))} == before
    assert db.session.scalar(select(OrgUnit).where(OrgUnit.name.in_(["被篡改", "被插入"]))) is None


@pytest.mark.parametrize("viewer", ["qs01.head", "qs01.cadre"])
def test_village_user_user_pages_of_the_other_village_leak_nothing(viewer, signed_in, demo):
    client = signed_in(viewer)
    for username in ("qs02.cadre", "qs02.head", "qs02.g1"):
        victim = demo.user(username)
        response = client.get(f"/admin/users/{victim.id}")
        own = client.get(f"/admin/users/{demo.user('qs01.g1').id}")
        # no user.view for village roles: the same answer for their own village's users
        assert response.status_code == own.status_code == 403
        assert victim.username not in text(response) and victim.display_name not in text(response)
        assert B not in text(response)
    assert client.get("/admin/users", query_string={"q": "qs02"}).status_code == 403


def test_admin_scoped_to_village_a_gets_404_for_village_b(signed_in, demo, db):
    """A user holding org.manage/user.manage at 青石村 only: every object of 上坝村 answers 404."""
    village_a, village_b = demo.unit(A), demo.unit(B)
    make_user(db, "qs01.admin", Role.system_admin, village_a)
    client = signed_in("qs01.admin")
    b_units = subtree(village_b)
    before = {u.id: (u.name, u.code, u.is_active, u.center_name) for u in b_units}
    for unit in b_units:
        for url in (f"/admin/org/{unit.id}", f"/admin/org/{unit.id}/edit", f"/admin/org/{unit.id}/new"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert unit.name not in text(response)
        for url, data in ((f"/admin/org/{unit.id}/edit", {"code": unit.code, "name": "被篡改", "center_name": "x"}),
                          (f"/admin/org/{unit.id}/disable", {}),
                          (f"/admin/org/{unit.id}/enable", {}),
                          (f"/admin/org/{unit.id}/new", {"kind": "grid", "code": "X-1", "name": "被插入"})):
            response = post(client, url, data)
            assert response.status_code == 404, url
            assert unit.name not in text(response)

    b_users = [demo.user(n) for n in ("qs02.head", "qs02.cadre", "qs02.g1", "qs02.g4")]
    users_before = {u.id: (u.display_name, u.title, u.is_active, u.password_hash) for u in b_users}
    for victim in b_users:
        response = client.get(f"/admin/users/{victim.id}")
        assert response.status_code == 404
        assert victim.username not in text(response) and victim.display_name not in text(response)
        for url, data in ((f"/admin/users/{victim.id}/edit", {"display_name": "被篡改"}),
                          (f"/admin/users/{victim.id}/disable", {}),
                          (f"/admin/users/{victim.id}/enable", {}),
                          (f"/admin/users/{victim.id}/password", {"password": "Another#Pass9"}),
                          (f"/admin/users/{victim.id}/memberships",
                           {"role": "village_cadre", "unit_code": village_a.code}),
                          (f"/admin/memberships/{victim.memberships[0].id}/end", {})):
            response = post(client, url, data)
            assert response.status_code == 404, url
            assert victim.display_name not in text(response)

    listing = text(client.get("/admin/users"))
    assert "qs01.head" in listing and "qs01.g1" in listing  # control: own village's users are listed
    assert "qs02" not in listing and B not in listing
    assert "没有符合条件的用户" in text(client.get("/admin/users", query_string={"q": "qs02"}))
    cadres = text(client.get("/admin/users", query_string={"role": "village_cadre"}))
    assert "qs01.cadre" in cadres and "qs02" not in cadres

    # placing one of A's users at B is refused as "not in your jurisdiction"
    own_user = demo.user("qs01.cadre")
    response = post(client, f"/admin/users/{own_user.id}/memberships", {"role": "village_cadre", "unit_code": village_b.code})
    assert response.status_code == 422
    assert "不在您的管辖范围内" in text(response)

    db.session.expire_all()
    assert {u.id: (u.name, u.code, u.is_active, u.center_name) for u in
            (db.session.get(OrgUnit, x.id) for x in b_units)} == before
    assert {u.id: (u.display_name, u.title, u.is_active, u.password_hash) for u in
            (db.session.get(User, x.id) for x in b_users)} == users_before
    assert all(m.is_active for u in b_users for m in db.session.get(User, u.id).memberships)
    assert [m.unit_id for m in db.session.get(User, own_user.id).memberships] == [village_a.id]
    assert db.session.scalar(select(OrgUnit).where(OrgUnit.name.in_(["被篡改", "被插入"]))) is None


# --- township against township --------------------------------------------------------------------------

@pytest.mark.parametrize("viewer", ["qs.leader", "qs.staff", "qs.center"])
def test_township_user_gets_404_for_the_other_township(viewer, signed_in, demo):
    client = signed_in(viewer)
    other = demo.unit("城关街道")
    community = demo.unit("文昌社区")
    probes = [other, community, community.children[0], demo.unit("鼓楼社区"), other.parent]
    for unit in probes:
        response = client.get(f"/admin/org/{unit.id}")
        assert response.status_code == 404, unit.name
        assert unit.name not in text(response)
    own = client.get(f"/admin/org/{demo.unit('青石镇').id}")
    assert own.status_code == 200 and B in text(own) and "城关街道" not in text(own)

    search = text(client.get("/admin/org", query_string={"q": "社区"}))  # every community is in a 街道
    assert "没有找到匹配的单位" in search
    departments = text(client.get("/admin/departments"))
    assert "青石镇派出所" in departments
    assert "城关街道派出所" not in departments and "区信访局" not in departments
    desk = client.get("/township/")
    assert desk.status_code == 200 and B in text(desk) and "城关街道" not in text(desk)
    assert client.get("/township/", query_string={"unit": other.id}).status_code == 404
    assert client.get("/center/").status_code == 403


def test_admin_scoped_to_a_township_cannot_touch_another_township(signed_in, demo, db):
    qs = demo.unit("青石镇")
    make_user(db, "qs.admin", Role.system_admin, qs)
    client = signed_in("qs.admin")
    other, community = demo.unit("城关街道"), demo.unit("文昌社区")
    dept = demo.department("城关街道派出所")
    cg_leader = demo.user("cg.leader")
    units_before = len(all_units(db))
    for unit in (other, community):
        assert client.get(f"/admin/org/{unit.id}/edit").status_code == 404
        assert client.get(f"/admin/org/{unit.id}/new").status_code == 404
        assert post(client, f"/admin/org/{unit.id}/edit", {"code": unit.code, "name": "被篡改"}).status_code == 404
        assert post(client, f"/admin/org/{unit.id}/disable").status_code == 404
        new = post(client, f"/admin/org/{unit.id}/new", {"kind": "community", "code": "990101001099", "name": "被插入"})
        assert new.status_code == 404
    assert client.get(f"/admin/departments/{dept.id}/edit").status_code == 404
    edit = post(client, f"/admin/departments/{dept.id}/edit", {"name": "被篡改", "kind": "resident", "unit_id": other.id})
    assert edit.status_code == 404
    assert post(client, f"/admin/departments/{dept.id}/disable").status_code == 404
    created = post(client, "/admin/departments/new", {"name": "被插入", "kind": "on_call", "unit_id": other.id})
    assert created.status_code == 422 and "不在您的管辖范围内" in text(created)
    assert client.get(f"/admin/users/{cg_leader.id}").status_code == 404
    assert post(client, f"/admin/users/{cg_leader.id}/disable").status_code == 404
    assert "没有符合条件的用户" in text(client.get("/admin/users", query_string={"q": "cg."}))
    # control: inside its own township the same admin works
    assert client.get(f"/admin/org/{demo.unit(B).id}/edit").status_code == 200
    assert client.get(f"/admin/users/{demo.user('qs02.cadre').id}").status_code == 200

    db.session.expire_all()
    assert db.session.get(OrgUnit, other.id).name == "城关街道" and db.session.get(OrgUnit, other.id).is_active
    assert db.session.get(Department, dept.id).name == "城关街道派出所" and db.session.get(Department, dept.id).is_active
    assert db.session.get(User, cg_leader.id).is_active
    assert len(all_units(db)) == units_before
    assert db.session.scalar(select(Department).where(Department.name.in_(["被篡改", "被插入"]))) is None


# --- grid worker, department liaison, district users -----------------------------------------------------

def test_grid_worker_sees_only_their_grid(signed_in, demo):
    actor = demo.actor("qs01.g1")
    village = demo.unit(A)
    own = demo.unit(f"{A}第1网格")
    others = [g for g in village.children if g.id != own.id]
    assert others
    from core.org import queries

    assert [u.id for u in queries.list_units(actor, action="case.read", include_inactive=True)] == [own.id]
    assert queries.get_unit_or_404(own.id, actor=actor, action="case.read").id == own.id
    for unit in [*others, village, village.parent, demo.unit(B)]:
        with pytest.raises(NotFound):
            queries.get_unit_or_404(unit.id, actor=actor, action="case.read")
    assert queries.list_units(actor) == []  # grid workers hold no org.view

    client = signed_in("qs01.g1")
    home = client.get("/m/")
    assert home.status_code == 200
    assert own.name in text(home)
    assert all(g.name not in text(home) for g in others)
    assert client.get("/village/").status_code == 403
    assert client.get(f"/admin/org/{others[0].id}").status_code == 403


def test_department_liaison_sees_only_their_department(signed_in, demo, db):
    from core.accounts.queries import users_query
    from core.org import queries

    actor = demo.actor("xinfang.liaison")
    own, other = demo.department("区信访局"), demo.department("区司法局")
    assert queries.list_departments(actor, action="desk.department") == [own]
    assert queries.list_departments(actor, action="case.read", include_inactive=True) == [own]
    assert queries.get_department_or_404(own.id, actor=actor, action="desk.department") is own
    for dept in (other, demo.department("青石镇派出所")):
        with pytest.raises(NotFound):
            queries.get_department_or_404(dept.id, actor=actor, action="desk.department")
    assert queries.list_units(actor, action="case.read", include_inactive=True) == []
    visible = {u.username for u in db.session.scalars(users_query(actor, "desk.department"))}
    assert visible == {"xinfang.head", "xinfang.liaison"}
    clause = unit_or_department_filter(actor, "case.read", OrgUnit.path, Department.id)
    rows = set(db.session.scalars(select(Department.id).join(OrgUnit, Department.unit_id == OrgUnit.id).where(clause)))
    assert rows == {own.id}

    client = signed_in("xinfang.liaison")
    page = client.get("/center/department")
    assert page.status_code == 200
    assert "区信访局" in text(page) and "区司法局" not in text(page)
    for url in ("/admin/org", "/admin/departments", f"/admin/departments/{other.id}/edit", "/center/", "/township/"):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("viewer", ["leader.wang", "center.li", "admin"])
def test_district_users_see_the_whole_district(viewer, signed_in, demo, db):
    from core.org import queries

    district = demo.unit("示范区")
    actor = demo.actor(viewer)
    expected = {u.id for u in subtree(district)}
    assert len(expected) == 1 + 6 + 60 + sum(len(v.children) for t in district.children for v in t.children)
    assert {u.id for u in queries.list_units(actor, include_inactive=True, limit=5000)} == expected

    client = signed_in(viewer)
    for name in (B, A, "城关街道", "文昌社区", f"{B}第2网格"):
        unit = demo.unit(name)
        response = client.get(f"/admin/org/{unit.id}")
        assert response.status_code == 200 and name in text(response)
    departments = text(client.get("/admin/departments"))
    for name in ("区信访局", "青石镇派出所", "城关街道派出所", "白云乡综治办"):
        assert name in departments
    if viewer == "admin":
        listing = text(client.get("/admin/users", query_string={"q": "qs02"}))
        assert "qs02.cadre" in listing
        assert client.get(f"/admin/users/{demo.user('cg01.g1').id}").status_code == 200
    else:
        desk = text(client.get("/center/"))
        for t in district.children:
            assert t.name in desk


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
    ("qs01.head", "case.approve", ("unit", A), True),
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
