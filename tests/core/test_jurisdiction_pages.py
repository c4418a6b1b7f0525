"""Jurisdiction through the web pages: nobody lists, reads or changes anything outside the subtrees (or
departments) of their memberships. Outside objects answer 404 — the same as a missing id — and never leak
their data. (The scoping functions, permissions and getters underneath: ``test_jurisdiction_scoping``.)

Village A = 青石村 (qs01.*), village B = 上坝村 (qs02.*), both under 青石镇; the other township is 城关街道.
Only system_admin holds org.manage / user.manage, and only at the district; to reach the jurisdiction check
of the write routes (rather than the route-level permission gate) some tests give a user a system_admin
membership at a village or a township, built directly (operations allow it at the district only).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts.models import Role, User
from core.auth.scoping import unit_or_department_filter
from core.errors import NotFound
from core.org.models import Department, OrgUnit
from tests.core.jurisdiction_helpers import (
    A,
    B,
    all_units,
    make_user,
    post,
    subtree,
    text,
)

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
