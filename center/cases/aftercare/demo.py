"""Demo data of mediation, follow-up and review (after center/cases/demo.py): a session awaiting its outcome,
a failed session followed by another one, a 满意 follow-up visit, and a 复查 pending at an organ outside the
platform (a district's answer is reviewed by the city). Built through the operations; the answer document
and its service record of the reviewed case are written as paper-trail rows, like demo._ready_to_close.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from center.cases.aftercare import operations as aftercare
from center.cases.intake.identity import resident_id_check_char
from center.cases.intake.operations import register_case
from center.cases.lifecycle.operations import shanghai_date, transition
from center.cases.mediation import operations as mediation
from center.cases.models import CaseStatus
from center.cases.reviews import operations as reviews
from core.accounts.models import User
from core.actor import Actor
from core.db import db
from core.org.models import OrgUnit


def _answered_and_served(case, *, drafter: User, approver: User, approved_at: datetime, served_at: datetime) -> None:
    """TODO(documents): draft, approve and serve through center.cases.documents.operations once it settles."""
    from center.cases.models import CaseDocument, DocumentKind, ServiceMethod, ServiceRecord

    unit = case.handling_unit
    doc = CaseDocument(case=case, kind=DocumentKind.answer, organ_unit=unit, organ_name=f"{unit.name}人民政府",
                       doc_no=f"示信复〔{approved_at.year}〕{case.id}号", title="信访事项处理意见书",
                       body="经调查核实，现答复如下……如不服本处理意见，可自收到本意见之日起30日内向上一级机关申请复查。",
                       drafter_user_id=drafter.id, approved_by_user_id=approver.id, approved_at=approved_at)
    db.session.add(doc)
    db.session.add(ServiceRecord(case_id=case.id, document=doc, method=ServiceMethod.registered_mail,
                                 served_on=shanghai_date(served_at), reference="EMS 1190 2231 456",
                                 recorded_by_user_id=drafter.id))
    db.session.flush()


def load(_system_actor, context: dict) -> None:
    cases = context.get("cases") or {}
    now = datetime.now(UTC).replace(microsecond=0)
    users = {u.username: u for u in db.session.scalars(select(User))}

    def actor(name: str) -> Actor:
        return Actor.for_user(users[name], channel="cli")

    case = cases.get("d-mediate")
    if case is not None and case.status in mediation.MEDIATING:
        mediation.record_session(case, actor=actor("qs02.cadre"), mediation_type="people",
                                 held_at=now - timedelta(days=6, hours=3), place="上坝村调解室",
                                 mediators="上坝村人民调解委员会", participants="兄弟二人、其母亲、村民小组长",
                                 notes="双方对赡养费分担比例分歧较大，约定一周内再次调解")
    case = cases.get("c-work")
    if case is not None and case.status in mediation.MEDIATING:
        first = mediation.record_session(case, actor=actor("cg.staff"), mediation_type="people",
                                         held_at=now - timedelta(days=12, hours=2), place="文昌社区调解室",
                                         mediators="文昌社区人民调解委员会", participants="商铺经营者、投诉居民代表 3 人",
                                         notes="经营者不同意调整营业时间")
        mediation.record_outcome(first, actor=actor("cg.staff"), outcome="failure",
                                 guidance="告知居民可向区生态环境局投诉，或依法向人民法院提起诉讼")
        mediation.record_session(case, actor=actor("cg.staff"), mediation_type="administrative",
                                 held_at=now - timedelta(days=3, hours=4), place="城关街道矛调中心",
                                 mediators="城关街道矛调中心、区生态环境局执法人员",
                                 participants="商铺经营者、投诉居民代表", notes="现场检测噪音超标，经营者同意加装隔音设施，结果待记录")
    case = cases.get("p-closed")
    if case is not None and case.status == CaseStatus.closed:
        aftercare.record_visit(case, actor=actor("qs.staff"), visited_at=now - timedelta(days=2, hours=5),
                               method="phone", notes="电话回访申请人：低保评定结果已在村务公开栏公示，申请人表示认可",
                               rating="satisfied", note="对答复满意")
    _reviewed_case(actor, now)


def _reviewed_case(actor, now: datetime) -> None:
    """A district-center petition answered and served 19 days ago, its 复查 asked of the city (off the platform)."""
    district = db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None), OrgUnit.name == "示范区"))
    if district is None:
        return
    first17 = "99010119681105277"
    party = {"role": "applicant", "kind": "person", "name": "罗德胜", "id_type": "resident_id",
             "id_number": first17 + resident_id_check_char(first17), "phone": "13901019977", "address": "示范区东湖街道"}
    case = register_case(actor("center.li"), kind="petition", summary="反映区属企业改制职工身份置换补偿标准不一",
                         category="劳资/欠薪", channel="letter", origin_unit=district, parties=[party],
                         petition_class="appeal", demands="请求按同一标准补发身份置换补偿金", people_count=1,
                         risk_colour="yellow", received_at=now - timedelta(days=50))
    for action, who, ago in (("accept", "center.li", 49), ("start", "center.li", 48)):
        transition(case, action, actor=actor(who), at=now - timedelta(days=ago), note="示范数据")
    _answered_and_served(case, drafter=actor("center.li").user, approver=actor("leader.wang").user,
                         approved_at=now - timedelta(days=21), served_at=now - timedelta(days=19))
    transition(case, "answer", actor=actor("center.li"), at=now - timedelta(days=19), note="示范数据")
    transition(case, "close", actor=actor("leader.wang"), at=now - timedelta(days=18), note="示范数据")
    reviews.request_review(case, actor=actor("center.li"), level="review",
                           requested_on=shanghai_date(now - timedelta(days=5)), external_organ="市信访局",
                           external_reference="市信收〔2026〕0087号")
