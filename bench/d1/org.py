"""The D1 org tree, its departments, users and memberships.

Units and departments are transient instances of the project's own models (never added to a session): the
generator then reads ``tier``, ``ancestor_ids`` and ``is_within`` from them, names organs with
``center.cases.documents.operations.organ_name_for``, and checks every post with
``core.accounts.memberships.validate_place`` — the rules the application applies — while the rows themselves
go to the database in bulk. ``core.org.operations.create_unit`` is not used: it flushes once per unit to
learn the id its path needs; here ids are chosen up front and the path written at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.d1 import names
from bench.d1.writer import Rows, utc
from core.accounts.memberships import validate_place
from core.accounts.models import Role
from core.demo import DISTRICT_CODE, ON_CALL, RESIDENT, ROTATING, TOWNSHIPS
from core.org.models import Department, DepartmentKind, OrgUnit, UnitKind
from core.org.operations import check_code_format

VILLAGES_TOTAL = 1000
GRIDS_PER_VILLAGE = 3
TOWNSHIP_DEPARTMENTS = (("派出所", "治安纠纷", "pcs"), ("司法所", "人民调解", "sfs"), ("综治办", "网格化管理", "zzb"))
#: District departments whose users the README names; every other department gets "bm<NN>.head/.liaison".
DEMO_DEPARTMENT_SHORT = {"区信访局": "xinfang", "区司法局": "sifa", "区人社局（劳动人事争议仲裁院）": "renshe",
                         "区住房和城乡建设委员会": "zhujian", "区民政局": "minzheng"}
DISTRICT_CENTER_STAFF = ("center.li", "center.chen", "center.s01", "center.s02", "center.s03", "center.s04")


@dataclass
class Org:
    district: OrgUnit
    townships: list[OrgUnit] = field(default_factory=list)
    villages: dict[int, list[OrgUnit]] = field(default_factory=dict)  # township id → villages
    grids: dict[int, list[OrgUnit]] = field(default_factory=dict)  # village id → grids
    units: dict[int, OrgUnit] = field(default_factory=dict)
    district_departments: list[Department] = field(default_factory=list)
    township_departments: dict[int, list[Department]] = field(default_factory=dict)
    #: (unit id, role) → user ids holding it there
    posts: dict[tuple[int, Role], list[int]] = field(default_factory=dict)
    #: department id → {"head": user id, "liaison": user id}
    department_users: dict[int, dict[str, int]] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    display_names: dict[int, str] = field(default_factory=dict)
    memberships: int = 0

    def holders(self, unit_id: int, role: Role) -> list[int]:
        return self.posts.get((unit_id, role), [])

    def township_of(self, unit: OrgUnit) -> OrgUnit:
        return self.units[unit.ancestor_ids[1]]


class _People:
    """Display names of staff: reproducible, varied, not the residents' names."""

    def __init__(self, rng):
        self.rng = rng

    def next(self) -> str:
        return self.rng.choice(names.SURNAMES) + self.rng.choice(names.GIVEN)


def _village_counts(rng, n_townships: int) -> list[int]:
    counts = [37 + rng.randint(-7, 7) for _ in range(n_townships)]
    i = 0
    while sum(counts) != VILLAGES_TOTAL:  # nudge one township at a time to the exact total
        step = 1 if sum(counts) < VILLAGES_TOTAL else -1
        if counts[i % n_townships] + step >= 12:
            counts[i % n_townships] += step
        i += 1
    return counts


def build(rows: Rows, rng, *, password_hash: str, now) -> Org:
    """Add every unit, department, user, membership (with its activation audit row) to ``rows``."""
    created = utc(now)
    ids = rows.new_id
    people = _People(rng)

    def unit(kind, code, name, parent, *, prefix=None, center=None) -> OrgUnit:
        check_code_format(kind, code)
        uid = ids("org_units")
        u = OrgUnit(id=uid, kind=kind, code=code, name=name, parent_id=parent.id if parent else None,
                    path=f"{parent.path if parent else '/'}{uid}/", depth=parent.depth + 1 if parent else 0,
                    case_prefix=prefix, center_name=center, is_active=True)
        u.parent = parent  # transient: organ_name_for / upper_organ_name read the parent
        rows.add("org_units", id=uid, kind=kind.value, code=code, name=name, parent_id=u.parent_id, path=u.path,
                 depth=u.depth, case_prefix=prefix, center_name=center, is_active=True, created_at=created,
                 updated_at=created)
        org.units[uid] = u
        return u

    def department(place: OrgUnit, name: str, kind: DepartmentKind, duty: str | None) -> Department:
        did = ids("departments")
        d = Department(id=did, name=name, kind=kind, unit_id=place.id, duty=duty, is_active=True)
        d.unit = place
        rows.add("departments", id=did, name=name, kind=kind.value, unit_id=place.id, duty=duty, is_active=True,
                 created_at=created, updated_at=created)
        return d

    def user(username: str, role: Role, place, title: str) -> int:
        validate_place(role, place)  # the project's rule: each role at its tier
        uid = org.user_ids.get(username)
        if uid is None:
            uid = ids("users")
            display = people.next()
            rows.add("users", id=uid, username=username, display_name=display, password_hash=password_hash,
                     password_changed_at=created, must_change_password=False, is_active=True, title=title,
                     kind="person", created_at=created, updated_at=created)
            org.user_ids[username], org.usernames[uid], org.display_names[uid] = uid, username, display
        on_unit = isinstance(place, OrgUnit)
        mid = ids("memberships")
        rows.add("memberships", id=mid, user_id=uid, role=role.value, unit_id=place.id if on_unit else None,
                 department_id=None if on_unit else place.id, status="active", decided_at=created,
                 created_at=created, updated_at=created)
        # Placed and activated by the server console, as the demo district is (core.demo.load_core).
        rows.add("audit_entries", at=created, actor_name="system:cli", unit_id=place.id if on_unit else None,
                 action="membership.activated", object_type="memberships", object_id=str(mid), result="ok",
                 channel="cli", changed_fields=["decided_at", "status"])
        org.memberships += 1
        if on_unit:
            org.posts.setdefault((place.id, role), []).append(uid)
        else:
            org.department_users.setdefault(place.id, {})["head" if role == Role.department_head else
                                                            "liaison"] = uid
        return uid

    org = Org(district=None)  # type: ignore[arg-type]
    district = unit(UnitKind.district, DISTRICT_CODE, "示范区", None, prefix="SF",
                    center="示范区社会矛盾纠纷调处化解中心")
    org.district = district
    for number, (name, duty) in enumerate(RESIDENT + ROTATING, start=1):
        kind = DepartmentKind.resident if number <= len(RESIDENT) else DepartmentKind.rotating
        org.district_departments.append(department(district, name, kind, duty))
    for name in ON_CALL:
        org.district_departments.append(department(district, name, DepartmentKind.on_call, None))

    for username, role, title in (("admin", Role.system_admin, "信息中心"), ("secadmin", Role.security_admin, "信息中心"),
                                  ("auditor", Role.auditor, "区纪委监委派驻"),
                                  ("leader.wang", Role.district_leader, "区委副书记、政法委书记"),
                                  ("leader.zhao", Role.district_leader, "副区长")):
        user(username, role, district, title)
    for username in DISTRICT_CENTER_STAFF:
        user(username, Role.center_staff, district, "区矛调中心受理窗口")
    for number, d in enumerate(org.district_departments, start=1):
        short = DEMO_DEPARTMENT_SHORT.get(d.name, f"bm{number:02d}")
        user(f"{short}.head", Role.department_head, d, "局长")
        user(f"{short}.liaison", Role.department_liaison, d, "联络员")

    demo = [(s, n, k, short, list(v)) for s, n, k, short, v in TOWNSHIPS]
    extra = [(s, n, UnitKind.community if s.startswith("0") else UnitKind.village, short, [])
             for s, n, short in names.EXTRA_TOWNSHIPS]
    plan = sorted(demo + extra, key=lambda t: t[0])
    taken = {n for t in plan for n in [t[1], *t[4]]}
    for (suffix, t_name, v_kind, short, v_names), count in zip(plan, _village_counts(rng, len(plan)), strict=True):
        is_street = t_name.endswith("街道")
        t = unit(UnitKind.township, f"990101{suffix}000", t_name, district, center=f"{t_name}矛盾纠纷调处化解中心")
        org.townships.append(t)
        org.township_departments[t.id] = []
        for d_name, duty, d_short in TOWNSHIP_DEPARTMENTS:
            d = department(t, f"{t_name}{d_name}", DepartmentKind.resident, duty)
            org.township_departments[t.id].append(d)
            user(f"{short}.{d_short}.head", Role.department_head, d, "所长" if d_name != "综治办" else "主任")
            user(f"{short}.{d_short}.liaison", Role.department_liaison, d, "联络员")
        user(f"{short}.leader", Role.township_leader, t, "党工委书记" if is_street else "党委书记")
        user(f"{short}.leader2", Role.township_leader, t, "政法委员")
        user(f"{short}.staff", Role.township_staff, t, "矛调中心工作人员")
        user(f"{short}.staff2", Role.township_staff, t, "矛调中心工作人员")
        user(f"{short}.center", Role.center_staff, t, "矛调中心受理窗口")
        all_names = v_names + names.village_names(rng, count - len(v_names), community=is_street, taken=taken)
        org.villages[t.id] = []
        for v_index, v_name in enumerate(all_names, start=1):
            v = unit(v_kind, f"990101{suffix}{v_index:03d}", v_name, t)
            org.villages[t.id].append(v)
            v_short = f"{short}{v_index:02d}"
            user(f"{v_short}.head", Role.village_head, v, "村(居)委会主任")
            user(f"{v_short}.cadre", Role.village_cadre, v, "调解委员")
            org.grids[v.id] = []
            for g_index in range(1, GRIDS_PER_VILLAGE + 1):
                g = unit(UnitKind.grid, f"990101{suffix}{v_index:03d}G{g_index:02d}", f"{v_name}第{g_index}网格", v)
                org.grids[v.id].append(g)
                user(f"{v_short}.g{g_index}", Role.grid_worker, g, "专职网格员")
    rows.add("audit_entries", at=created, actor_name="system:cli", unit_id=district.id, action="demo.loaded",
             object_type="org_units", object_id=str(district.id), result="ok", channel="cli",
             changed_fields=["departments", "org_units", "users"])
    return org
