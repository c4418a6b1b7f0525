"""Demo assignments, built through the operations: every department user of the demo district opens a working
queue — 区信访局 and 区人社局 work the district's collective petition, 区民政局 is summoned twice (one summons
acknowledged, one waiting for its answer), 区住房和城乡建设委员会 has two cases queued, 区司法局 guides a village
mediation, and 区信访局 has recent completed work."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from center.departments import operations
from core.accounts.models import User
from core.actor import Actor
from core.db import db
from core.org.models import Department
from core.timefmt import SHANGHAI

# (case key, department, dispatching user, hours ago, task, arrive_by (hours from now) or None)
DISPATCHES = [
    ("z-district", "区信访局", "center.li", 140, "牵头协调职工安置诉求的政策解释与信访答复", None),
    ("z-district", "区人社局（劳动人事争议仲裁院）", "center.li", 139, "核算拖欠工资与经济补偿，提出安置方案", None),
    ("z-district", "区民政局", "center.li", 1, "评估困难职工家庭的临时救助条件", "tomorrow"),
    ("d-up", "区民政局", "qs.staff", 3, "到场了解务工人员生活困难情况", 3),
    ("d-up", "区住房和城乡建设委员会", "qs.staff", 2, "核实工程项目总包方与工程款支付情况", None),
    ("c-new", "区住房和城乡建设委员会", "cg.staff", 50, "就老旧小区加装电梯政策答疑并参与协调", None),
    ("d-mediate", "区司法局", "qs02.head", 150, "指导村调委会开展赡养纠纷调解", None),
    ("p-over", "区信访局", "qs.staff", 240, "督促相关部门核查污水排放问题并反馈", None),
]
#: (case key, department, user, hours ago): later steps
ACKNOWLEDGED = [("d-up", "区民政局", "minzheng.liaison", 2)]
COMPLETED = [("p-over", "区信访局", "xinfang.liaison", 72, "已协调区生态环境局现场检查，养殖场已停止排污并限期整改。")]


def _tomorrow_morning(now: datetime) -> datetime:
    day = now.astimezone(SHANGHAI).date() + timedelta(days=1)
    return datetime.combine(day, time(9, 30), tzinfo=SHANGHAI).astimezone(UTC)


def load(_system_actor, context: dict) -> None:
    cases = context.get("cases") or {}
    if not cases:
        return
    now = datetime.now(UTC).replace(microsecond=0)
    users = {u.username: u for u in db.session.scalars(select(User))}
    departments = {d.name: d for d in db.session.scalars(select(Department))}

    def actor(name: str) -> Actor:
        return Actor.for_user(users[name], channel="cli")

    made = {}
    for key, dept, who, hours, task, arrive in DISPATCHES:
        if key not in cases or dept not in departments:
            continue
        arrive_by = None
        if arrive == "tomorrow":
            arrive_by = _tomorrow_morning(now)
        elif arrive is not None:
            arrive_by = now + timedelta(hours=arrive)
        made[(key, dept)] = operations.dispatch(cases[key], departments[dept], actor=actor(who), task=task,
                                                arrive_by=arrive_by, at=now - timedelta(hours=hours))
    for key, dept, who, hours in ACKNOWLEDGED:
        if (key, dept) in made:
            operations.acknowledge(made[(key, dept)], actor=actor(who), at=now - timedelta(hours=hours))
    for key, dept, who, hours, result in COMPLETED:
        if (key, dept) in made:
            operations.complete(made[(key, dept)], actor=actor(who), result=result, at=now - timedelta(hours=hours))
    context["assignments"] = made
