"""Demo cases for 示范区: every state of both kinds, some deadlines near or past, a 检举控告 item, a repeat and
a collective visit — so a newcomer opening a desk sees a working center. Built through the real operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from center.cases.intake.identity import resident_id_check_char
from center.cases.intake.operations import register_case
from center.cases.lifecycle.operations import shanghai_date, transition
from core.accounts.models import User
from core.actor import Actor
from core.db import db
from core.org.models import Department, OrgUnit


def _id_number(seq: int) -> str:
    first17 = f"990101{1960 + seq % 40:04d}{1 + seq % 12:02d}{1 + seq % 28:02d}{100 + seq:03d}"
    return first17 + resident_id_check_char(first17)


def _person(seq: int, name: str, role: str = "applicant") -> dict:
    return {"role": role, "kind": "person", "name": name, "id_type": "resident_id", "id_number": _id_number(seq),
            "phone": f"1390101{seq:04d}", "address": "示范区青石镇"}


# (key, kind, actor, origin, summary, category, channel, days ago, colour, people, actions, petition class)
# actions: list of (action, actor username, days ago, unit name or None)
CASES = [
    ("p-new", "petition", "qs.staff", "青石镇", "反映青石村集体土地征收补偿款未足额发放", "征地拆迁", "visit", 2, "yellow", 1,
     [], "appeal"),
    ("p-near", "petition", "qs.staff", "青石村", "反映村组道路硬化工程质量问题", "其他", "letter", 13, "blue", 1, [], "suggestion"),
    ("p-late", "petition", "qs.staff", "上坝村", "反映宅基地审批迟迟未办理", "土地/山林权属", "online", 19, "yellow", 1, [], "appeal"),
    ("p-work", "petition", "qs.staff", "青石镇", "反映镇中心小学周边交通安全隐患", "其他", "phone", 40, "yellow", 1,
     [("accept", "qs.staff", 38, None), ("start", "qs.staff", 37, None)], "suggestion"),
    ("p-yellow", "petition", "qs.staff", "石门村", "讨要石材厂拖欠的劳务费", "劳资/欠薪", "visit", 55, "orange", 3,
     [("accept", "qs.staff", 52, None), ("start", "qs.staff", 50, None)], "appeal"),
    ("p-over", "petition", "qs.staff", "杨柳村", "反映养殖场污水排入灌溉渠", "环境污染", "hotline", 75, "orange", 2,
     [("accept", "qs.staff", 72, None), ("start", "qs.staff", 70, None)], "appeal"),
    ("p-closed", "petition", "qs.staff", "枣林村", "反映低保评定不公开", "其他", "visit", 50, "blue", 1,
     [("accept", "qs.staff", 49, None), ("start", "qs.staff", 48, None), ("answer", "qs.staff", 20, None),
      ("close", "qs.leader", 18, None)], "appeal"),
    ("p-evaluated", "petition", "qs.staff", "龙泉村", "建议增设村卫生室夜间值班", "医疗", "online", 80, "blue", 1,
     [("accept", "qs.staff", 79, None), ("start", "qs.staff", 78, None), ("answer", "qs.staff", 40, None),
      ("close", "qs.leader", 39, None), ("evaluate", "qs.staff", 30, None)], "suggestion"),
    ("p-refused", "petition", "qs.staff", "青石镇", "要求重新分配二十年前的承包地", "土地/山林权属", "visit", 30, "blue", 1,
     [("not_accept", "qs.staff", 28, None)], "appeal"),
    ("p-legal", "petition", "qs.staff", "上坝村", "交通事故赔偿争议，对方已起诉", "交通事故", "visit", 25, "yellow", 1,
     [("guide_to_legal", "qs.staff", 24, None)], "appeal"),
    ("p-accuse", "petition", "qs.staff", "上坝村", "举报上坝村村务公开不实、账目不清", "其他", "letter", 6, "orange", 1, [],
     "accusation"),
    ("d-new", "dispute", "qs01.g1", "青石村第1网格", "邻里因排水沟堵塞发生争执", "邻里纠纷", "grid_agent", 0, "blue", 2, [], None),
    ("d-mediate", "dispute", "qs02.cadre", "上坝村", "兄弟二人因赡养老人费用分担发生纠纷", "婚姻家庭", "visit", 9, "yellow", 3,
     [("accept", "qs02.head", 9, None), ("mediate", "qs02.cadre", 7, None)], None),
    ("d-down", "dispute", "qs.staff", "青石镇", "两户因宅基地界址发生争议", "土地/山林权属", "visit", 12, "yellow", 2,
     [("hand_down", "qs.staff", 11, "青石村")], None),
    ("d-up", "dispute", "qs01.cadre", "青石村", "二十余名务工人员讨要工程款", "劳资/欠薪", "visit", 5, "red", 23,
     [("escalate", "qs01.cadre", 4, None)], None),
    ("d-done", "dispute", "qs01.cadre", "青石村", "物业费与停车收费争议", "涉房/物业", "phone", 21, "blue", 1,
     [("accept", "qs01.head", 20, None), ("mediate", "qs01.cadre", 19, None), ("answer", "qs01.cadre", 15, None),
      ("close", "qs01.head", 14, None)], None),
    ("c-new", "petition", "cg.staff", "城关街道", "反映老旧小区加装电梯意见分歧", "涉房/物业", "visit", 3, "yellow", 6, [],
     "suggestion"),
    ("c-work", "dispute", "cg.staff", "文昌社区", "商铺噪音扰民", "邻里纠纷", "hotline", 16, "blue", 4,
     [("accept", "cg.staff", 15, None), ("mediate", "cg.staff", 14, None)], None),
    # 转送 to the competent organ: 区人社局 accepts and answers in its own name, its head approving.
    ("z-renshe", "petition", "center.li", "示范区", "反映某建筑公司拖欠四十余名农民工工资", "劳资/欠薪", "visit", 20,
     "orange", 4, [("transfer", "center.li", 19, "区人社局（劳动人事争议仲裁院）"), ("accept", "renshe.liaison", 18, None),
                   ("start", "renshe.liaison", 17, None)], "appeal"),
    ("z-district", "petition", "center.li", "示范区", "反映开发区企业破产职工安置问题（集体访）", "劳资/欠薪", "visit", 8, "red", 35,
     [("accept", "center.li", 7, None), ("start", "center.li", 6, None)], "appeal"),
]

#: Cases the clerk routes at intake to a center other than the default (a complex dispute to the township center).
HANDLED_AT = {"c-work": "城关街道"}

NAMES = ["李桂兰", "王建国", "张秀英", "刘德胜", "陈淑珍", "杨国庆", "赵红军", "黄玉兰", "周春梅", "吴志强", "徐海燕", "孙德明",
         "胡建华", "朱丽华", "高文博", "林晓东", "何秀兰", "郭玉芳", "马建军"]


#: Accepted petitions whose 受理告知书 has not gone out: their 受理告知 deadline shows on the desks.
LATE_NOTICE = {"p-work"}
#: Who signs a 受理告知书 for the organ the drafter works for.
NOTICE_SIGNER = {"qs.staff": "qs.leader", "center.li": "leader.wang", "renshe.liaison": "renshe.head"}


def _acceptance_notice(case, users, drafter: str, *, at) -> None:
    """The 受理告知书, drafted by whoever accepted and signed by the organ's leader: it meets 受理告知."""
    from center.cases.documents import operations as documents

    writer = Actor.for_user(users[drafter], channel="cli")
    doc = documents.draft_document(case, "acceptance", actor=writer, at=at)
    documents.approve_document(doc, actor=Actor.for_user(users[NOTICE_SIGNER[drafter]], channel="cli"),
                               at=at + timedelta(hours=1))


def _ready_to_close(case, users, *, at) -> None:
    """What closing requires (center.cases.lifecycle.closing): an approved, served answer for a petition; an approved
    mediation outcome for a dispute. The answer is built through center.cases.documents.operations (drafted by the
    township clerk, each demand answered, approved by the township leader, served the same day). The dispute's
    outcome is written as the paper trail left it: callers use this on cases already past mediation, where
    center.cases.mediation.operations's operations (which need a case in mediation) no longer apply."""
    from center.cases.documents import operations as documents
    from center.cases.documents.texts import ANSWER_PLACEHOLDER
    from center.cases.models import MediationOutcome, MediationSession, MediationType

    unit = case.handling_unit
    if case.kind == "dispute":
        db.session.add(MediationSession(
            case=case, mediation_type=MediationType.people, held_at=at, place=f"{unit.name}调解室",
            mediators=f"{unit.name}人民调解委员会", participants="双方当事人", outcome=MediationOutcome.success,
            agreement="双方自愿达成协议：物业公司减免停车费三个月，业主按期缴纳物业费。",
            recorded_by_user_id=users["qs01.cadre"].id, approved_by_user_id=users["qs01.head"].id, approved_at=at))
        return
    staff = Actor.for_user(users["qs.staff"], channel="cli")
    leader = Actor.for_user(users["qs.leader"], channel="cli")
    doc = documents.draft_document(case, "answer", actor=staff, at=at - timedelta(hours=1))
    documents.edit_document(doc, actor=staff, title=doc.title, doc_no=doc.doc_no, body=doc.body.replace(
        ANSWER_PLACEHOLDER, "经调查核实，已依法依规作出处理，具体情况已当面向你（们）说明。"))
    documents.approve_document(doc, actor=leader, at=at - timedelta(minutes=30))
    documents.record_service(doc, actor=staff, method="direct", served_on=shanghai_date(at), reference="回执 0001",
                             recipient=case.parties[0].name if case.parties else None, at=at)


def load(_system_actor, context: dict) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    units = {u.name: u for u in db.session.scalars(select(OrgUnit))}
    users = {u.username: u for u in db.session.scalars(select(User))}
    departments = {d.name: d for d in db.session.scalars(select(Department))}

    def actor(name: str) -> Actor:
        return Actor.for_user(users[name], channel="cli")

    cases = {}
    for i, (key, kind, who, origin, summary, category, channel, days, colour, people, actions, pclass) in \
            enumerate(CASES):
        parties = [_person(i * 2 + 1, NAMES[i % len(NAMES)])]
        if kind == "dispute":
            parties.append(_person(i * 2 + 2, NAMES[(i + 7) % len(NAMES)], role="respondent"))
        extra = {"accused_unit": units["上坝村"]} if pclass == "accusation" else {}
        if key in HANDLED_AT:
            extra["handling_unit"] = units[HANDLED_AT[key]]
        case = register_case(actor(who), kind=kind, summary=summary, category=category, channel=channel,
                             origin_unit=units[origin], parties=parties, petition_class=pclass,
                             demands="请求依法依规处理并书面答复" if kind == "petition" else "请求调解",
                             people_count=people, risk_colour=colour, received_at=now - timedelta(days=days),
                             **extra)
        for action, by, ago, place in actions:
            at = now - timedelta(days=ago, hours=-1)
            # 答复 is the approved answer (its issue date meets the answer deadline); a dispute closes on its
            # mediation outcome.
            if (action == "answer" and kind == "petition") or (action == "close" and kind == "dispute"):
                _ready_to_close(case, users, at=now - timedelta(days=ago, hours=2))
            if action == "evaluate":
                # 评价 follows its record: the petitioner's word on the result, taken by the clerk.
                from center.cases.aftercare.operations import record_evaluation

                record_evaluation(case, actor=actor(by), stage="result", rating="satisfied", source="staff",
                                  note="示范数据：信访人电话表示满意", at=at)
                continue
            kwargs = {"unit": units[place]} if place in units else {}
            if action == "transfer":
                kwargs = {"department": departments[place]}
            if action == "guide_to_legal":
                kwargs["legal_channel"] = "litigation"
            transition(case, action, actor=actor(by), at=at, note="示范数据", **kwargs)
            if action == "accept" and kind == "petition" and key not in LATE_NOTICE:
                _acceptance_notice(case, users, by, at=at + timedelta(hours=3))
        cases[key] = case
    # A repeat: the same petitioner comes back about the unpaid compensation.
    first = cases["p-new"]
    register_case(actor("qs.staff"), kind="petition", summary="再次反映征收补偿款未足额发放", category="征地拆迁",
                  channel="phone", origin_unit=units["青石镇"], parties=[_person(1, NAMES[0])],
                  petition_class="appeal", people_count=1, risk_colour="orange", repeat_of=first,
                  received_at=now - timedelta(hours=5))
    _department_answer(cases["z-renshe"], users, now)
    context["cases"] = cases


def _department_answer(case, users, now) -> None:
    """区人社局's answer in its own name: drafted by its liaison, approved by its head (not the center)."""
    from center.cases.documents import operations as documents
    from center.cases.documents.texts import ANSWER_PLACEHOLDER

    liaison = Actor.for_user(users["renshe.liaison"], channel="cli")
    head = Actor.for_user(users["renshe.head"], channel="cli")
    at = now - timedelta(days=3)
    doc = documents.draft_document(case, "answer", actor=liaison, at=at)
    documents.edit_document(doc, actor=liaison, title=doc.title, doc_no=doc.doc_no, body=doc.body.replace(
        ANSWER_PLACEHOLDER, "经劳动保障监察立案调查，已责令该公司限期足额支付拖欠工资，逾期将依法申请强制执行。"))
    documents.approve_document(doc, actor=head, at=at + timedelta(hours=2))
