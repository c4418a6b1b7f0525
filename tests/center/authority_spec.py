"""What the authority table (tests/center/test_authority_table.py) needs besides its literal cells: the subjects
it names, built through the real operations inside the test's rolled-back transaction; the request each
(action, channel) sends; and the snapshot that proves a refusal changed nothing.

Nothing here reads center.cases.permissions or core.auth.registry to decide an expectation: the expectations
are the table's literal cells. The builders only use operations as a clerk would (register, transition,
dispatch, draft …), each done by the user whose job it is in the demo district.

A subject key reads ``<family>.<kind>.<state>[+<extra>…]``:

- family — where the case sits and therefore which relation each demo user holds (the table's RELATIONS):
  ``T``  township: arose at 青石村第1网格, handled by 青石镇 (registered by the platform, so nobody is its filer);
  ``Tf`` the same, with 区信访局 dispatched (常驻, working) and 区民政局 summoned (随驻) by qs.staff;
  ``V``  village: a dispute that arose at 青石村第1网格, handled by 青石村;
  ``D``  district: a red petition of 示范区 handled by the district center, with 区信访局 dispatched (working),
         区民政局 summoned (not yet acknowledged) and 区住房和城乡建设委员会 queued (轮驻);
  ``X``  transferred: a red district petition transferred (转送) to 区人社局, the competent organ;
  ``E``  escalated: a red petition of 青石镇 escalated to the district, qs.leader (党委书记) its owner leader;
  ``A``  accusation: a 检举控告 petition against 青石村, filed by qs01.cadre, handled by 青石镇;
- kind — ``p`` petition (申诉求决类, with a respondent), ``d`` dispute;
- state — registered | handed_down | escalated (the family's own first state) | accepted | in_progress |
  mediating | answered | closed;
- extras — draft (an answer drafted by the organ's worker, every demand answered), draft_head (drafted by the
  organ's leader himself), approved (+ approved by the leader), served (+ served), session (a mediation
  session), outcome (+ its outcome 调解成功), approved_outcome (+ approved by the leader), review (复查 asked of
  示范区 on the platform), review_external (复查 asked of 市信访局, outside the platform).
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.center.authority_steps import (
    _answer_document,
    _dispatch,
    _mediation,
    _now,
    _summon_receiver,
    _today,
)
from tests.conftest import csrf_token

TODAY_FMT = "%Y-%m-%d"

# --- the demo district as the table names it ------------------------------------------------------------------

#: Every demo user the table names, with the post the demo gives them (literal: what a reader checks the
#: table against).
USERS = {
    "qs.staff": ("township_staff", "青石镇"),
    "qs.center": ("center_staff", "青石镇"),
    "qs.leader": ("township_leader", "青石镇（党委书记）"),
    "qs01.head": ("village_head", "青石村"),
    "qs01.cadre": ("village_cadre", "青石村"),
    "qs01.g1": ("grid_worker", "青石村第1网格"),
    "cg.staff": ("township_staff", "城关街道"),
    "cg.leader": ("township_leader", "城关街道"),
    "center.li": ("center_staff", "示范区"),
    "leader.wang": ("district_leader", "示范区"),
    "xinfang.liaison": ("department_liaison", "区信访局"),
    "xinfang.head": ("department_head", "区信访局"),
    "renshe.liaison": ("department_liaison", "区人社局（劳动人事争议仲裁院）"),
    "renshe.head": ("department_head", "区人社局（劳动人事争议仲裁院）"),
    "minzheng.liaison": ("department_liaison", "区民政局（随驻）"),
    "zhujian.liaison": ("department_liaison", "区住房和城乡建设委员会（轮驻）"),
    "admin": ("system_admin", "示范区"),
    "secadmin": ("security_admin", "示范区"),
    "auditor": ("auditor", "示范区"),
}

RENSHE = "区人社局（劳动人事争议仲裁院）"
ZHUJIAN = "区住房和城乡建设委员会"

#: Who does the family's own steps when a builder walks a case to its state: (triage, worker, leader).
ORGAN = {
    "T": ("qs.staff", "qs.staff", "qs.leader"),
    "Tf": ("qs.staff", "qs.staff", "qs.leader"),
    "V": ("qs01.head", "qs01.cadre", "qs01.head"),
    "D": ("center.li", "center.li", "leader.wang"),
    "X": ("renshe.liaison", "renshe.liaison", "renshe.head"),
    "E": ("center.li", "center.li", "leader.wang"),
    "A": ("qs.staff", "qs.staff", "qs.leader"),
}

#: Inputs of each family's requests (literal: the unit or department a user would pick on the form).
HAND_DOWN_TO = {"T": "青石村", "Tf": "青石村", "D": "青石镇", "X": "青石镇", "E": "青石镇", "A": "青石村", "V": "青石村第1网格"}
TRANSFER_TO = {"T": "青石镇司法所", "Tf": "青石镇司法所", "D": RENSHE, "X": "区信访局", "E": RENSHE, "A": "青石镇司法所",
               "V": "青石镇司法所"}
ESCALATE_TO = {"T": "示范区", "Tf": "示范区", "V": "青石镇", "A": "示范区", "D": None, "X": None, "E": None}
DISPATCH_TO = {"T": "区信访局", "Tf": "区司法局", "V": "区司法局", "D": "区司法局", "X": "区司法局", "E": "区司法局",
               "A": "区信访局"}
SUMMON_TO = {"T": "区民政局", "Tf": "区水务局", "V": "区民政局", "D": "区水务局", "X": "区水务局", "E": "区水务局",
             "A": "区民政局"}
OWNER_PICK = {"T": "qs.leader", "Tf": "qs.leader", "V": "qs01.head", "D": "leader.wang", "X": "leader.wang",
              "E": "leader.wang", "A": "qs.leader"}
REGRADE_TO = {"T": "yellow", "Tf": "yellow", "V": "orange", "D": "orange", "X": "orange", "E": "orange", "A": "yellow"}
#: 复查: on the platform (the unit one level up) or the organ outside it.
REVIEW_ORGAN = {"T": ("platform", None), "A": ("platform", None), "D": ("external", "市信访局"),
                # a department's answer: its own level's people's government, on the platform (信访工作条例 Art. 35)
                "X": ("platform", None), "E": ("external", "市信访局")}

#: The transitions' status after success (literal, DOMAIN.md §2).
TARGET_STATUS = {
    "accept": "accepted", "not_accept": "not_accepted", "hand_down": "handed_down", "transfer": "handed_down",
    "return": "registered", "escalate": "escalated", "start": "in_progress", "mediate": "mediating",
    "refer_mediation": "mediating", "answer": "answered", "close": "closed", "reopen": "reopened",
    "guide_to_legal": "guided_to_legal", "evaluate": "evaluated", "terminate": "terminated",
}
TRANSITIONS = frozenset(TARGET_STATUS)

#: The timeline entry each allowed action leaves (what "it happened" means for the table).
EVENT = {**{t: t for t in TRANSITIONS},
         "dispatch": "dispatch", "summons": "summons", "acknowledge": "summons_acknowledged", "arrive": "arrived",
         "take": "assignment_taken", "complete": "assignment_done", "withdraw": "assignment_withdrawn",
         "assign_owner": "assign_owner", "regrade": "regrade", "draft": "document_drafted",
         "doc_approve": "document_approved", "serve": "document_served", "extension": "extended",
         "mediation_session": "mediation_session", "mediation_outcome": "mediation_outcome",
         "mediation_approve": "mediation_approved", "mediation_approve_close": "close",
         "supervise": "supervision_manual", "note": "note", "upload": "attachment", "follow_up": "follow_up",
         "follow_up_rated": "evaluate", "review_request": "review_requested", "review_decide": "review_decided",
         "escalation_request": "escalation_requested"}

#: WeChat text a user might try for a step (the callback registry answers reads only: 待办 and a case number).
WECHAT_WORDS = {"accept": "受理", "not_accept": "不予受理", "answer": "答复", "close": "办结", "note": "进展",
                "acknowledge": "响应", "complete": "办结反馈", "dispatch": "派单"}

#: A minimal, valid PDF (content-checked upload).
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


# --- subjects -----------------------------------------------------------------------------------------------------

@dataclass
class Subject:
    key: str
    family: str
    kind: str
    case: object
    #: department name → id of its assignment on the case
    assignments: dict[str, int] = field(default_factory=dict)
    document_id: int | None = None
    session_id: int | None = None
    review_id: int | None = None

    @property
    def number(self) -> str:
        return self.case.number


def parse(key: str) -> tuple[str, str, str, list[str]]:
    family, kind, rest = key.split(".", 2)
    state, *extras = rest.split("+")
    return family, kind, state, extras


def _parties():
    return [{"role": "applicant", "kind": "person", "name": "权限表申请人"},
            {"role": "respondent", "kind": "person", "name": "权限表被申请人"}]


def _register(demo, family: str, kind: str):
    from center.cases.intake.operations import register_case
    from core.actor import Actor

    system = Actor.system("cli")
    summary = f"权限表测试事项 {uuid.uuid4().hex[:8]}"
    common = {"kind": "petition" if kind == "p" else "dispute", "summary": summary, "category": "其他",
              "channel": "visit", "parties": _parties(), "repeat_of": "none",
              "petition_class": "appeal" if kind == "p" else None,
              "demands": "请求依法处理" if kind == "p" else "请求调解", "people_count": 2}
    if family in ("T", "Tf"):
        return register_case(system, origin_unit=demo.unit("青石村第1网格"), handling_unit=demo.unit("青石镇"),
                             risk_colour="orange", **common)
    if family == "V":
        return register_case(system, origin_unit=demo.unit("青石村第1网格"), risk_colour="yellow", **common)
    if family in ("D", "X"):
        return register_case(system, origin_unit=demo.unit("示范区"), risk_colour="red", **common)
    if family == "E":
        return register_case(system, origin_unit=demo.unit("青石镇"), risk_colour="red", **common)
    if family == "A":
        common["petition_class"] = "accusation"
        return register_case(demo.actor("qs01.cadre"), origin_unit=demo.unit("青石村"),
                             accused_unit=demo.unit("青石村"), risk_colour="orange", **common)
    raise ValueError(family)


def build(demo, key: str) -> Subject:
    """The subject ``key`` names, committed (a savepoint of the test's transaction) so requests see it."""
    from center.cases.lifecycle.operations import transition

    family, kind, state, extras = parse(key)
    triage, worker, leader = ORGAN[family]
    _summon_receiver(demo, SUMMON_TO[family])
    case = _register(demo, family, kind)
    subject = Subject(key, family, kind, case)

    def step(action, by, **kw):
        transition(case, action, actor=demo.actor(by), note="权限表", **kw)

    if family == "X":
        step("transfer", "center.li", department=demo.department(RENSHE))
    elif family == "E":
        from center.cases.routing.operations import assign_owner

        step("escalate", "qs.staff")
        assign_owner(case, actor=demo.actor("center.li"), owner_leader=demo.user("qs.leader"))
    elif family == "Tf":
        for dept in ("区信访局", "区民政局"):
            subject.assignments[dept] = _dispatch(demo, case, dept, "qs.staff").id
    elif family == "D":
        for dept in ("区信访局", "区民政局", ZHUJIAN):
            subject.assignments[dept] = _dispatch(demo, case, dept, "center.li").id

    petition = kind == "p"
    if state in ("accepted", "in_progress", "mediating", "answered", "closed"):
        step("accept", triage)
    if state in ("in_progress",) or (petition and state in ("answered", "closed")):
        step("start", worker)
    if state == "mediating" or (not petition and state in ("answered", "closed")):
        step("mediate", worker)
    if state in ("answered", "closed"):
        if petition:
            doc = _answer_document(demo, case, worker, leader, worker)
            subject.document_id = doc.id
        else:
            subject.session_id = _mediation(demo, case, worker, outcome=True, approver=leader).id
        step("answer", worker)
    if state == "closed":
        step("close", leader)

    for extra in extras:
        if extra in ("draft", "approved", "served"):
            doc = _answer_document(demo, case, worker, leader if extra in ("approved", "served") else None,
                                   worker if extra == "served" else None)
            subject.document_id = doc.id
        elif extra == "draft_head":
            subject.document_id = _answer_document(demo, case, leader).id
        elif extra in ("session", "outcome"):
            subject.session_id = _mediation(demo, case, worker, outcome=extra == "outcome").id
        elif extra == "approved_outcome":
            subject.session_id = _mediation(demo, case, worker, outcome=True, approver=leader).id
        elif extra in ("review", "review_external"):
            from center.cases.reviews import operations as reviews

            if extra == "review":
                review = reviews.request_review(case, actor=demo.actor(triage), level="review",
                                                requested_on=_today(), organ_unit=demo.unit("示范区"))
            else:
                review = reviews.request_review(case, actor=demo.actor(triage), level="review",
                                                requested_on=_today(), external_organ="市信访局",
                                                external_reference="市信收〔2026〕0001号")
            subject.review_id = review.id
        else:
            raise ValueError(f"unknown extra {extra!r} in {key}")
    demo.db.session.commit()
    return subject


# --- requests --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    channel: str
    path: str | None = None
    data: dict | None = None
    json: dict | None = None
    #: a WeChat text message
    text: str | None = None
    multipart: bool = False


def _local(dt: datetime, fmt="%Y-%m-%dT%H:%M") -> str:
    from core.timefmt import SHANGHAI

    return dt.astimezone(SHANGHAI).strftime(fmt)


def _transition_inputs(demo, s: Subject, action: str) -> dict:
    """The transition's inputs in the API's names (the form maps them onto its own)."""
    inputs: dict = {"note": "权限表测试"}
    if action == "not_accept":
        inputs["note"] = "不属于本机关职责范围"
    elif action == "return":
        inputs["note"] = "不属于本部门职责，退回"
    elif action == "hand_down":
        inputs["unit_id"] = demo.unit(HAND_DOWN_TO[s.family]).id
    elif action == "escalate" and ESCALATE_TO[s.family]:
        inputs["unit_id"] = demo.unit(ESCALATE_TO[s.family]).id
    elif action == "transfer":
        inputs["department_id"] = demo.department(TRANSFER_TO[s.family]).id
    elif action == "guide_to_legal":
        inputs["legal_channel"] = "litigation"
    elif action == "refer_mediation":
        inputs["consent"] = ["applicant", "respondent"]
    return inputs


def _form_path(demo, s: Subject, action: str) -> tuple[str, dict, bool]:
    """(path, form data, multipart) of the page form that offers ``action``."""
    n = s.number
    a = s.assignments
    now = _now()
    if action in TRANSITIONS:
        inputs = _transition_inputs(demo, s, action)
        data = {"remark": inputs.pop("note")}
        for who in inputs.pop("consent", []):
            data[f"consent_{who}"] = "1"
        data.update({k: str(v) for k, v in inputs.items()})
        return f"/cases/{n}/transitions/{action}", data, False
    if action == "dispatch":
        return f"/cases/{n}/assignments", {"department_id": str(demo.department(DISPATCH_TO[s.family]).id),
                                           "task": "权限表：请派员参与调处"}, False
    if action == "summons":
        return f"/cases/{n}/assignments", {"department_id": str(demo.department(SUMMON_TO[s.family]).id),
                                           "task": "权限表：请到场评估",
                                           "arrive_by": _local(now + timedelta(days=1))}, False
    if action in ("acknowledge", "arrive"):
        return f"/cases/{n}/assignments/{a['区民政局']}/{'acknowledge' if action == 'acknowledge' else 'arrive'}", {}, False
    if action == "take":
        return f"/cases/{n}/assignments/{a[ZHUJIAN]}/take", {}, False
    if action == "complete":
        return f"/cases/{n}/assignments/{a['区信访局']}/complete", {"result": "已完成交办任务"}, False
    if action == "withdraw":
        return f"/cases/{n}/assignments/{a['区信访局']}/withdraw", {"reason": "无需继续参与"}, False
    if action == "assign_owner":
        return f"/cases/{n}/owner", {"owner_leader_id": str(demo.user(OWNER_PICK[s.family]).id)}, False
    if action == "regrade":
        return f"/cases/{n}/regrade", {"new_colour": REGRADE_TO[s.family], "regrade_reason": "风险变化"}, False
    if action == "draft":
        return f"/cases/{n}/documents/draft", {"kind": "answer"}, False
    if action == "doc_approve":
        return f"/cases/{n}/documents/{s.document_id}/approve", {}, False
    if action == "serve":
        return f"/cases/{n}/documents/{s.document_id}/serve", {"method": "direct",
                                                              "served_on": _today().strftime(TODAY_FMT)}, False
    if action == "extension":
        return f"/cases/{n}/extension", {"days": "10", "reason": "需补充调查取证"}, False
    if action == "mediation_session":
        return f"/cases/{n}/mediation/sessions", {"mediation_type": "people",
                                                  "held_at": _local(now - timedelta(hours=1)),
                                                  "mediators": "人民调解委员会"}, False
    if action == "mediation_outcome":
        return f"/cases/{n}/mediation/{s.session_id}/outcome", {"outcome": "success",
                                                                "agreement": "双方自愿达成调解协议。"}, False
    if action == "mediation_approve":
        return f"/cases/{n}/mediation/{s.session_id}/approve", {}, False
    if action == "mediation_approve_close":
        return f"/cases/{n}/mediation/{s.session_id}/approve-close", {}, False
    if action == "supervise":
        return f"/cases/{n}/supervise", {"level": "2", "form": "phone", "opinion": "请抓紧办理"}, False
    if action == "note":
        return f"/cases/{n}/notes", {"note": "权限表：进展记录"}, False
    if action == "upload":
        return f"/cases/{n}/attachments", {"purpose": "other", "file": (io.BytesIO(PDF), "材料.pdf")}, True
    if action == "follow_up":
        return f"/cases/{n}/follow-ups", {"visited_at": _local(now), "method": "phone", "notes": "电话回访"}, False
    if action == "evaluation":
        stage = "result" if s.case.status in ("closed", "evaluated") else "acceptance"
        return f"/cases/{n}/evaluations", {"stage": stage, "rating": "satisfied", "source": "staff"}, False
    if action == "review_request":
        organ, name = REVIEW_ORGAN[s.family]
        data = {"level": "review", "requested_on": _today().strftime(TODAY_FMT), "organ": organ}
        if name:
            data["external_organ"] = name
        return f"/cases/{n}/reviews", data, False
    if action == "review_decide":
        return f"/cases/{n}/reviews/{s.review_id}/decision", {"decided_on": _today().strftime(TODAY_FMT),
                                                              "decision": "upheld", "notes": "维持"}, False
    raise ValueError(action)


MOBILE = {"note": ("notes", {"note": "权限表：现场照片说明"}), "follow_up": ("follow-up", {"method": "phone", "notes": "回访"}),
          "follow_up_rated": ("follow-up", {"method": "home", "notes": "入户回访", "rating": "satisfied"}),
          "escalation_request": ("escalation", {"reason": "村里调解不成，申请上报"})}


def request_for(demo, s: Subject, action: str, channel: str) -> Request:
    """The request ``action`` sends through ``channel`` ("form", "api", "m", "wechat"). A channel that does not
    offer the action gets the request a user would try there (the table's "no route" cells)."""
    n = s.number
    if channel == "api":
        if action in TRANSITIONS:
            return Request("api", f"/api/v1/cases/{n}/transitions",
                           json={"action": action, **_transition_inputs(demo, s, action)})
        path, data, _ = _form_path(demo, s, action)
        return Request("api", path.replace("/cases/", "/api/v1/cases/", 1),
                       json={k: v for k, v in data.items() if isinstance(v, str)})
    if channel == "m":
        if action in MOBILE:
            segment, data = MOBILE[action]
            return Request("m", f"/m/cases/{n}/{segment}", data=dict(data))
        path, data, multipart = _form_path(demo, s, action)
        return Request("m", "/m" + path, data=data, multipart=multipart)
    if channel == "wechat":
        return Request("wechat", text=f"{WECHAT_WORDS.get(action, action)} {n}")
    if channel == "form" and action in ("evaluate", "terminate"):
        return Request("form", f"/cases/{n}/transitions/{action}", data={"remark": "权限表"})
    path, data, multipart = _form_path(demo, s, action)
    return Request("form", path, data=data, multipart=multipart)


def send(client, token: str, req: Request, *, user=None):
    """Send ``req`` as the signed-in ``client``. Returns (status, body): an HTTP status, or for WeChat the text
    reply (status 200)."""
    if req.channel == "wechat":
        from village.commands import text_handler

        return 200, text_handler({"MsgType": "text", "Content": req.text}, user)
    if req.json is not None:
        response = client.post(req.path, json=req.json, headers={"X-CSRFToken": token})
    else:
        data = {**(req.data or {}), "csrf_token": token}
        response = client.post(req.path, data=data,
                               content_type="multipart/form-data" if req.multipart else None)
    return response.status_code, response.get_data(as_text=True)


def messages(body: str) -> list[str]:
    """The error and flash messages of a page (or the message of a JSON error), for failure reports."""
    if body.startswith("{"):
        import json

        error = json.loads(body).get("error") or {}
        return [error.get("message", "")] + [m for ms in (error.get("fields") or {}).values() for m in ms]
    found = re.findall(r'class="(?:error|flash[^"]*)"[^>]*>(.*?)</div>', body, flags=re.S)
    return [re.sub(r"<[^>]+>", " ", m).strip() for m in found if m.strip()]


def sign_in(signed_in, username: str):
    """(client, CSRF token) for a demo user: the token of their session, taken from a page every user has."""
    client = signed_in(username)
    return client, csrf_token(client)


# --- nothing changed -------------------------------------------------------------------------------------------


# The state checks and the page reader live in their own module (kept for callers of spec.*).
from tests.center.authority_state import (  # noqa: E402, F401
    _case_tables,
    changes,
    denials,
    new_events,
    offered,
    snapshot,
    status_of,
)
