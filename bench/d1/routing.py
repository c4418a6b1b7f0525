"""The parts of a case's walk that involve other people: 包案 and 承办人, departments joining (派单, 轮驻 queue,
随驻 summons — center.departments.operations), the competent department of a 转送, evaluations with 回访, and
复查/复核 (center.cases.reviews.operations).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bench.d1 import names
from bench.d1.clock import NotYet
from bench.d1.weighted import Weighted
from bench.d1.writer import utc
from center.departments.operations import INITIAL_STATUS
from core.accounts.models import Role

#: Which district departments a category of matter goes to (转送 to the competent organ, or 派单 to help).
AFFINITY = {
    "劳资/欠薪": ["区人社局（劳动人事争议仲裁院）"], "涉房/物业": ["区住房和城乡建设委员会", "区房屋管理局"],
    "土地/山林权属": ["区规划和自然资源局", "区农业农村委员会"], "征地拆迁": ["区规划和自然资源局", "区信访局"],
    "医疗": ["区卫生健康委员会", "区医疗保障局"], "环境污染": ["区生态环境局"], "婚姻家庭": ["区妇联", "区民政局"],
    "交通事故": ["区公安分局", "区交通运输局"], "涉企": ["区市场监督管理局", "区人社局（劳动人事争议仲裁院）"],
    "合同债务": ["区人民法院", "区司法局"], "损害赔偿": ["区司法局", "区公安分局"], "邻里纠纷": ["区司法局"],
    "其他": ["区信访局", "区委政法委"],
}
#: The township department that takes each category (派出所, 司法所, 综治办 in that order).
TOWNSHIP_AFFINITY = {"损害赔偿": 0, "交通事故": 0, "邻里纠纷": 1, "婚姻家庭": 1, "合同债务": 1}
OWNER_SHARE = {"red": 1.0, "orange": 1.0, "yellow": 0.12, "blue": 0.03}
DECISIONS = Weighted(("upheld", "changed", "revoked"), (85, 12, 3))
DISPATCH_SHARE = {"red": 0.7, "orange": 0.4, "yellow": 0.06, "blue": 0.02}


def _by_name(g) -> dict:
    cache = getattr(g, "_departments_by_name", None)
    if cache is None:
        cache = g._departments_by_name = {d.name: d for d in g.org.district_departments}
    return cache


def _allowed(g, case, department) -> bool:
    return not (case.accused is not None and department.unit.is_within(case.accused))


def competent_department(g, case):
    """Where a 转送 goes: a department at the handling unit's own center that handles this kind of matter."""
    unit, category = case.handling_unit, case.row["category"]
    if unit.tier == "district":
        found = [_by_name(g)[n] for n in AFFINITY.get(category, []) if n in _by_name(g)]
    else:
        found = [g.org.township_departments[unit.id][TOWNSHIP_AFFINITY.get(category, 2)]]
    found = [d for d in found if _allowed(g, case, d)]
    return g.rng.choice(found) if found else None


def owner(g, case, t) -> None:
    """包案领导 (by colour: red → a district leader or the township's secretary, orange → a township leader, yellow
    → the handling unit's head) and the 承办人 who accepted; blue cases rarely name anyone."""
    rng, o = g.rng, g.org
    if rng.random() >= OWNER_SHARE[case.colour]:
        return
    at = g.after(t, rng.uniform(0.01, 1))
    township_accused = case.accused is not None and case.accused.tier == "township"
    leader = None
    if case.colour == "red":
        leader = (rng.choice(o.holders(o.district.id, Role.district_leader))
                  if case.handling_unit.tier == "district" or township_accused or rng.random() < 0.3
                  else o.holders(case.township.id, Role.township_leader)[0])
    elif case.colour == "orange" and not township_accused:
        leader = rng.choice(o.holders(case.township.id, Role.township_leader))
    elif case.colour == "yellow" and case.handling_department is None:
        leader = g.leader(case.handling_unit)
    assignee = g.staff(g.organ(case))
    changed, notes = [], []
    if leader is not None:
        case.row["owner_leader_user_id"] = leader
        changed.append("owner_leader_user_id")
        notes.append(f"包案领导：{o.display_names[leader]}")
    case.row["assignee_user_id"] = assignee
    changed.append("assignee_user_id")
    notes.append(f"承办人：{o.display_names[assignee]}")
    g.log(case, "assign_owner", g.triager(g.organ(case)), at, note="；".join(notes), changed=changed)


# --- departments joining -----------------------------------------------------------------------------------------

def dispatch(g, case, t) -> None:
    """派单 after 受理 at a township or the district: one department, two for a red case."""
    rng = g.rng
    if case.handling_unit.tier == "village" and case.colour not in ("red", "orange"):
        return
    if rng.random() >= DISPATCH_SHARE[case.colour]:
        return
    wanted = 2 if case.colour == "red" else 1
    pool = [_by_name(g)[n] for n in AFFINITY.get(case.row["category"], []) if n in _by_name(g)]
    pool += rng.sample(g.org.district_departments, 3)
    township = case.township
    pool += g.org.township_departments[township.id]
    chosen, joined = [], {a[0].id for a in case.assignments}  # one live assignment per department and case
    for d in pool:
        if len(chosen) == wanted:
            break
        if d not in chosen and d.id not in joined and d is not case.handling_department and _allowed(g, case, d):
            chosen.append(d)
    assigner = g.triager(g.organ(case))
    for d in chosen:
        try:
            at = g.after(t, rng.uniform(0.02, 1.5))
        except NotYet:  # the dispatch itself is still to come; the case goes on without it
            return
        status = INITIAL_STATUS[d.kind].value
        task, arrive = rng.choice(names.TASKS), None
        row = g.rows.add("case_assignments", case_id=case.id, department_id=d.id, status=status, task=task,
                         assigned_by_user_id=assigner, assigned_at=utc(at), created_at=utc(at), updated_at=utc(at))
        changed = ["case_id", "department_id", "status", "task", "assigned_by_user_id", "assigned_at"]
        if status == "active":
            row["started_at"] = utc(at)
            changed.append("started_at")
        if status == "summoned":
            arrive = at + timedelta(hours=rng.uniform(3, 72))
            row["arrive_by"] = utc(arrive)
            changed.append("arrive_by")
            note = f"召集{d.name}（随驻），要求 {arrive:%Y-%m-%d %H:%M} 前到达：{task}"
            _step(g, case, row, assigner, at, "summons", note, changed)
        else:
            note = f"派单至{d.name}（{d.kind.label}）：{task}"
            _step(g, case, row, assigner, at, "dispatch", note, changed)
        case.assignments.append((d, row, at, arrive))


def _step(g, case, row, actor, at, action, note, changed) -> None:
    g.log(case, action, actor, at, note=note, changed=[f"assignment.{c}" for c in changed],
          obj=("case_assignments", row["id"]), audit_changed=changed)
    row["updated_at"] = utc(at)


def settle_assignments(g, case) -> None:
    """The later steps of each assignment: all of them before the case was answered (a department reports
    before the answer), or those already due by now while the case is still being worked."""
    rng = g.rng
    ended = getattr(case, "answered_at", None) or (g.noon(case.done_on) if case.done_on else None)
    for d, row, at, arrive in case.assignments:
        liaison = g.org.department_users[d.id]["liaison"]
        plan = []
        if row["status"] == "queued":
            plan.append(("assignment_taken", rng.uniform(0.2, 6)))
        if row["status"] == "summoned":
            plan.append(("summons_acknowledged", rng.uniform(0.01, 0.25)))
            plan.append(("arrived", max(0.02, (arrive - at).total_seconds() / 86400 + rng.uniform(-0.1, 0.3))))
        plan.append(("assignment_withdrawn" if rng.random() < 0.05 or case.status in ("not_accepted",
                     "guided_to_legal") else "assignment_done", rng.uniform(1, 20)))
        total = sum(days for _, days in plan)
        if ended is not None and at + timedelta(days=total) >= ended:
            # squeeze the steps in before the answer
            scale = max((ended - at).total_seconds() / 86400 - 0.02, 0.01) / total
            plan = [(a, days * scale) for a, days in plan]
        t = at
        for action, days in plan:
            t = t + timedelta(days=days)
            if t > g.now:
                break
            _assignment_step(g, case, d, row, liaison, t, action)


def _assignment_step(g, case, d, row, liaison, t, action) -> None:
    at = utc(t)
    if action == "assignment_taken":
        row.update(status="active", started_at=at)
        _step(g, case, row, liaison, t, action, f"{d.name}（轮驻）接办", ["status", "started_at"])
    elif action == "summons_acknowledged":
        row.update(status="acknowledged", acknowledged_at=at, acknowledged_by_user_id=liaison)
        _step(g, case, row, liaison, t, action, f"{d.name}已响应召集",
              ["status", "acknowledged_at", "acknowledged_by_user_id"])
    elif action == "arrived":
        row.update(status="active", arrived_at=at, started_at=at)
        _step(g, case, row, liaison, t, action, f"{d.name}已到达", ["status", "arrived_at", "started_at"])
    elif action == "assignment_done":
        result = g.rng.choice(names.RESULTS)
        row.update(status="done", finished_at=at, result=result)
        _step(g, case, row, liaison, t, action, f"{d.name}办结反馈：{result}", ["status", "finished_at", "result"])
    else:
        assigner = row["assigned_by_user_id"]
        row.update(status="withdrawn", finished_at=at, result="事项已由办理单位处理完毕")
        _step(g, case, row, assigner, t, action, f"撤回{d.name}的派单：事项已由办理单位处理完毕",
              ["status", "finished_at", "result"])


# --- evaluation and review ------------------------------------------------------------------------------------

def evaluate(g, case, at, rating: str) -> None:
    """评价 on the result: taken on a grid worker's 回访 for a case from a village, by the clerk otherwise."""
    rng, o = g.rng, g.org
    visit_id = None
    if case.village is not None and case.origin.tier in ("grid", "village") and rng.random() < 0.6:
        grid = case.grid or o.grids[case.village.id][0]
        visitor = o.holders(grid.id, Role.grid_worker)[0]
        method = rng.choice(("home", "phone", "wechat"))
        visit_id = g.rows.new_id("case_follow_ups")
        case.visits += 1
        notes = names.VISIT_NOTES[3] if rating == "unsatisfied" else rng.choice(names.VISIT_NOTES[:3])
        g.rows.add("case_follow_ups", id=visit_id, case_id=case.id, seq=case.visits, visited_at=utc(at),
                   method=method, notes=notes, visitor_user_id=visitor, created_at=utc(at), updated_at=utc(at))
        label = {"home": "入户回访", "phone": "电话回访", "wechat": "微信回访"}[method]
        g.log(case, "follow_up", visitor, at, note=f"第 {case.visits} 次回访（{label}）",
              changed=["seq", "visited_at", "method", "notes"], obj=("case_follow_ups", visit_id))
        recorder, source = visitor, "follow_up"
    else:
        recorder, source = g.staff(g.organ(case)), "staff"
    eid = g.rows.new_id("case_evaluations")
    text = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}[rating]
    g.rows.add("case_evaluations", id=eid, case_id=case.id, stage="result", rating=rating, source=source, at=utc(at),
               recorded_by_user_id=recorder, visit_id=visit_id, created_at=utc(at), updated_at=utc(at))
    g.audit(recorder, at, "case.evaluation", case.handling_unit.id, ("case_evaluations", eid),
            ["stage", "rating", "source"])
    g.transition(case, "evaluate", recorder, at, note=f"对办理结果：{text}")


def review(g, case, level: str, requested, *, organ, external):
    """A 复查/复核 request and its decision: (decision, decided day), or None while it is pending. Raises
    NotYet when the request itself lies in the future."""
    rng = g.rng
    request_at = g.after(g.noon(requested), 0.01, office=False)
    rid = g.rows.new_id("case_reviews")
    row = g.rows.add("case_reviews", id=rid, case_id=case.id, level=level, requested_on=requested,
                     organ_unit_id=organ.id if organ else None, external_organ=external,
                     external_reference=f"示信复〔{requested.year}〕{rng.randrange(1, 999)}号" if external else None,
                     recorded_by_user_id=g.staff(g.organ(case)), created_at=utc(request_at),
                     updated_at=utc(request_at))
    window, rule = ("review_window", "review_decision") if level == "review" else ("re_review_window",
                                                                                   "re_review_decision")
    g.clock.meet(case, [window], request_at, "requested", kind="window")
    g.clock.start(case, [rule], request_at, holder=(organ.id if organ else None, None))
    label = "复查" if level == "review" else "复核"
    where = organ.name if organ else external
    g.log(case, f"{level}_requested", row["recorded_by_user_id"], request_at,
          note=f"信访人于 {requested:%Y-%m-%d} 向{where}申请{label}",
          changed=["level", "requested_on", "organ_unit_id" if organ else "external_organ", "deadlines"],
          obj=("case_reviews", rid))
    decided_on = requested + timedelta(days=rng.randint(8, 28) if rng.random() < 0.93 else rng.randint(31, 50))
    if datetime.combine(decided_on, time(12)) > g.now:
        return None
    decision = DECISIONS(rng) if level == "review" else "upheld"
    decider = rng.choice(g.org.holders(organ.id, Role.district_leader)) if organ else row["recorded_by_user_id"]
    at = g.noon(decided_on)
    row.update(decided_on=decided_on, decision=decision, notes=f"{label}意见", updated_at=utc(at))
    g.clock.meet(case, [rule], at, f"{level}_decided")
    labels = {"upheld": "维持原处理意见", "changed": "变更原处理意见", "revoked": "撤销，责成重新办理"}
    g.log(case, f"{level}_decided", decider, at, note=f"{where}{label}意见：{labels[decision]}",
          changed=["decided_on", "decision", "notes", "deadlines"], obj=("case_reviews", rid))
    if level == "review" and decision != "revoked":
        g.clock.start(case, ["re_review_window"], at, started_on=decided_on, kind="window")
    return decision, decided_on
