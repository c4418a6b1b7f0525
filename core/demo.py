"""The demo district 示范区 (fictional): org tree, departments, users for every role.

Loaded by `flask demo load` in development and test only. Every demo user shares one password, printed
with the logins; no credentials exist outside this data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.accounts.models import Role, User
from core.accounts.passwords import hash_password
from core.actor import Actor
from core.audit.operations import record
from core.db import db
from core.org.models import DepartmentKind, OrgUnit, UnitKind
from core.org.operations import create_department, create_unit

DEMO_PASSWORD = "Shifan#2026"
#: Every demo account that needs a second factor is enrolled with this published authenticator secret
#: (base32). In development the sign-in's second step shows its current code (core.accounts.factor_views);
#: add it to an authenticator app to try the real thing.
DEMO_FACTOR_SECRET = "NVSHILLEMVWW6LLGMFRXI33SFVVWK6JB"
DISTRICT_CODE = "990101000000"

TOWNSHIPS = [  # (code suffix, name, kind of its villages, short, village names)
    ("001", "城关街道", UnitKind.community, "cg",
     ["文昌社区", "府前社区", "鼓楼社区", "南关社区", "北街社区", "新华社区", "翠屏社区", "滨河社区", "学府社区", "花园社区"]),
    ("002", "东湖街道", UnitKind.community, "dh",
     ["东湖社区", "湖滨社区", "望湖社区", "金桥社区", "朝阳社区", "春晖社区", "锦绣社区", "东城社区", "和平社区", "建设社区"]),
    ("101", "青石镇", UnitKind.village, "qs",
     ["青石村", "上坝村", "下坝村", "石门村", "杨柳村", "枣林村", "马家庄村", "龙泉村", "黄土岭村", "新农村"]),
    ("102", "柳河镇", UnitKind.village, "lh",
     ["柳河村", "西沟村", "东沟村", "河湾村", "李家堡村", "王家庄村", "大树村", "双井村", "前进村", "红星村"]),
    ("201", "桃源乡", UnitKind.village, "ty",
     ["桃源村", "桃花村", "杏林村", "白水村", "山口村", "高家坪村", "卧龙村", "岔路村", "茶园村", "果树村"]),
    ("202", "白云乡", UnitKind.village, "by",
     ["白云村", "云岭村", "松树村", "平安村", "后山村", "石桥村", "中坪村", "庙湾村", "团结村", "丰收村"]),
]

RESIDENT = [("区委政法委", "综治协调、矛盾纠纷排查化解牵头"), ("区信访局", "信访事项登记、转送、交办、督办"),
            ("区司法局", "人民调解、法律援助、公共法律服务"), ("区人民法院", "诉调对接、司法确认"),
            ("区公安分局", "治安纠纷调解、110 非警务警情分流"), ("区人社局（劳动人事争议仲裁院）", "劳资纠纷、欠薪处置"),
            ("区人民检察院", "检察听证、司法救助"), ("区妇联", "婚姻家庭纠纷调解")]
ROTATING = [("区住房和城乡建设委员会", "涉房、物业纠纷"), ("区规划和自然资源局", "土地、山林权属"),
            ("区农业农村委员会", "土地承包经营纠纷"), ("区卫生健康委员会", "医疗纠纷"),
            ("区市场监督管理局", "消费维权"), ("区生态环境局", "环境污染纠纷"), ("区教育局", "涉校纠纷")]
ON_CALL = ["区民政局", "区交通运输局", "区水务局", "区城市管理委员会", "区财政局", "区退役军人事务局", "区应急管理局",
           "区商务局", "区文化和旅游局", "区医疗保障局", "区总工会", "共青团区委", "区残疾人联合会", "区税务局",
           "区林业局", "区消防救援支队", "区供电公司", "区自来水公司", "区燃气公司", "区房屋管理局"]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "明", "伟", "芳", "静", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "超", "霞", "平", "刚", "桂芳", "晓东", "丽华", "春梅", "红军", "玉兰", "国庆", "建华", "淑珍", "德胜", "文博"]


@dataclass
class DemoLogins:
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role label, place)

    def add(self, username, role_label, place):
        self.rows.append((username, role_label, place))


class _Names:
    def __init__(self):
        self.i = 0

    def next(self) -> str:
        self.i += 1
        return SURNAMES[(self.i * 7) % len(SURNAMES)] + GIVEN[(self.i * 11) % len(GIVEN)]


def load_core(actor: Actor, context: dict) -> None:
    from core.accounts.memberships import console_membership, record_console_activations
    from core.accounts.models import ROLE_LABELS

    names = _Names()
    logins: DemoLogins = context.setdefault("logins", DemoLogins())
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for all demo users keeps loading fast
    placed = []

    def user(username, role, place, title=None):
        u = User(username=username, display_name=names.next(), title=title, password_hash=password_hash)
        # Placed and activated by the console (the system actor), each activation audited below: the demo
        # district starts with every role in force, as `flask accounts create-admin` starts an installation.
        placed.append(console_membership(role, place))
        u.memberships.append(placed[-1])
        db.session.add(u)
        place_name = place.name if isinstance(place, OrgUnit) else f"{place.unit.name}·{place.name}"
        logins.add(username, ROLE_LABELS[role], place_name)
        return u

    district = create_unit(kind=UnitKind.district, code=DISTRICT_CODE, name="示范区", parent=None, actor=actor,
                           case_prefix="SF", center_name="示范区社会矛盾纠纷调处化解中心", audit=False)
    context["district"] = district
    depts = {}
    for name, duty in RESIDENT:
        depts[name] = create_department(unit=district, name=name, kind=DepartmentKind.resident, duty=duty,
                                        actor=actor, audit=False)
    for name, duty in ROTATING:
        depts[name] = create_department(unit=district, name=name, kind=DepartmentKind.rotating, duty=duty,
                                        actor=actor, audit=False)
    for name in ON_CALL:
        depts[name] = create_department(unit=district, name=name, kind=DepartmentKind.on_call, actor=actor,
                                        audit=False)
    context["departments"] = depts

    user("admin", Role.system_admin, district, "信息中心")
    user("secadmin", Role.security_admin, district, "信息中心")
    user("auditor", Role.auditor, district, "区纪委监委派驻")
    user("leader.wang", Role.district_leader, district, "区委副书记、政法委书记")
    user("leader.zhao", Role.district_leader, district, "副区长")
    user("center.li", Role.center_staff, district, "区矛调中心受理窗口")
    user("center.chen", Role.center_staff, district, "区矛调中心分流岗")
    user("xinfang.head", Role.department_head, depts["区信访局"], "局长")
    user("xinfang.liaison", Role.department_liaison, depts["区信访局"], "联络员")
    user("sifa.head", Role.department_head, depts["区司法局"], "局长")
    user("sifa.liaison", Role.department_liaison, depts["区司法局"], "联络员")
    user("renshe.head", Role.department_head, depts["区人社局（劳动人事争议仲裁院）"], "局长")
    user("renshe.liaison", Role.department_liaison, depts["区人社局（劳动人事争议仲裁院）"], "联络员")
    user("zhujian.liaison", Role.department_liaison, depts["区住房和城乡建设委员会"], "联络员")
    user("minzheng.liaison", Role.department_liaison, depts["区民政局"], "联络员")

    townships, villages, grids = [], [], []
    for t_index, (suffix, t_name, v_kind, short, v_names) in enumerate(TOWNSHIPS):
        t = create_unit(kind=UnitKind.township, code=f"990101{suffix}000", name=t_name, parent=district,
                        actor=actor, center_name=f"{t_name}矛盾纠纷调处化解中心", audit=False)
        townships.append(t)
        for d_name, duty in (("派出所", "治安纠纷"), ("司法所", "人民调解"), ("综治办", "网格化管理")):
            create_department(unit=t, name=f"{t_name}{d_name}", kind=DepartmentKind.resident, duty=duty,
                              actor=actor, audit=False)
        full_roles = t_index in (0, 2)  # 城关街道 and 青石镇 get every role down to each grid
        user(f"{short}.leader", Role.township_leader, t, "党工委书记" if "街道" in t_name else "党委书记")
        user(f"{short}.staff", Role.township_staff, t, "矛调中心工作人员")
        if full_roles:
            user(f"{short}.leader2", Role.township_leader, t, "政法委员")
            user(f"{short}.center", Role.center_staff, t, "矛调中心受理窗口")
        for v_index, v_name in enumerate(v_names, start=1):
            v = create_unit(kind=v_kind, code=f"990101{suffix}{v_index:03d}", name=v_name, parent=t, actor=actor,
                            audit=False)
            villages.append(v)
            v_short = f"{short}{v_index:02d}"
            if full_roles and v_index <= 2 or v_index == 1:
                user(f"{v_short}.head", Role.village_head, v, "村(居)委会主任")
                user(f"{v_short}.cadre", Role.village_cadre, v, "调解委员")
            for g_index in range(1, 2 + (v_index % 3) + 1):
                g = create_unit(kind=UnitKind.grid, code=f"990101{suffix}{v_index:03d}G{g_index:02d}",
                                name=f"{v_name}第{g_index}网格", parent=v, actor=actor, audit=False)
                grids.append(g)
                user(f"{v_short}.g{g_index}", Role.grid_worker, g, "专职网格员")
    context.update(townships=townships, villages=villages, grids=grids)
    db.session.flush()
    record_console_activations(placed, actor=actor)
    record(actor, "demo.loaded", district, unit_id=district.id, changed=["org_units", "departments", "users"])


def enrol_demo_factors() -> int:
    """Enrol every demo user who holds a role requiring a second factor (after all seeders ran)."""
    from datetime import timedelta

    from sqlalchemy import select

    from core.accounts.factor_models import UserFactor
    from core.accounts.factors import DEFAULT_ROLES
    from core.crypto import provider
    from core.db import utcnow

    now = utcnow() - timedelta(days=1)
    done = 0
    for user in db.session.scalars(select(User)):
        if user.is_service or not any(m.role in DEFAULT_ROLES for m in user.memberships):
            continue
        db.session.add(UserFactor(user_id=user.id, secret=provider().encrypt(DEMO_FACTOR_SECRET),
                                  created_at=now, confirmed_at=now))
        done += 1
    return done
