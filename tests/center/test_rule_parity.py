"""Parity: every rule that moved out of a view (issue 9 §3) gives the same decision through the HTML form and
through the JSON API (/api/v1, session cookie + X-CSRFToken), because both call the one operation.

Each row is literal data — who acts, what exists first, what is sent, what must come back — and runs once per
channel with the same data: created (or moved), the same case again, refused with the same field errors, or
forbidden. A refusal changes nothing (cases, parties, events, deadlines, audit rows other than a recorded
denial). Placeholders in braces name the objects the row's ``given`` made (``{earlier}`` is its number).
Form field names differ from the API's only for the transition note (``remark`` → ``note``).
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from flask import template_rendered
from sqlalchemy import func, select

from center.cases.intake.operations import register_case
from center.cases.models import Case, CaseEvent, Deadline, Party
from core.audit.models import AuditEntry
from tests.center.test_identity import make_resident_id
from tests.conftest import csrf_token

ID_P = make_resident_id("990101", "19750620", "047")
KEY = "parity-key-0001"

# --- what is sent ---------------------------------------------------------------------------------------------

DISPUTE = {"kind": "dispute", "category": "邻里纠纷", "channel": "visit", "summary": "两户因宅基地边界发生争执",
           "people_count": 2, "risk_colour": "yellow", "applicant": {"name": "冯平行", "phone": "13700002222"}}
PETITION = {"kind": "petition", "petition_class": "appeal", "category": "征地拆迁", "channel": "visit",
            "summary": "征地补偿款至今没有发够", "people_count": 1, "risk_colour": "yellow",
            "applicant": {"name": "韩复访", "phone": "13600003333", "id_number": ID_P}}
ACCUSATION = {**PETITION, "petition_class": "accusation", "summary": "检举某干部截留补偿款",
              "applicant": {"name": "魏检举", "phone": "13500004444"}}


def _with(base: dict, **over) -> dict:
    return {**base, **over}


# --- the messages, literal (not imported from the code under test) -------------------------------------------

OUTSIDE = "请从列表中选择本辖区内的登记单位"
GRID_ORIGIN = "网格的事项由所在村(社区)或网格员登记，请选择村(社区)或以上的登记单位"
HANDLING_OUTSIDE = "办理单位须在您的管辖范围内，或为来源单位的上级单位"
HANDLING_GRID = "网格不是办理单位，请选择村(社区)或以上单位"
HANDLING_VILLAGE = "信访事项不能由村(社区)办理：村(居)民委员会不是信访事项的受理、办理机关"
ACCUSED_GRID = "被检举控告单位请选择村(社区)或以上的单位"
KEY_TAKEN = "该登记标识已被使用，请刷新登记页面后重新填写"
REPEAT_ASK = "发现可能的重复件：{earlier}。请选择关联的重复事项，或确认“不是重复件”"
REPEAT_UNSEEN = "所选的重复事项不存在或不在您的辖区内"
NO_REASON = "请填写不予受理的理由（将写入不予受理告知）"
NO_CHANNEL = "请选择导入的法定途径：诉讼、仲裁或行政复议"
DOWN_ONLY = "只能交办给本单位的下级单位"
DOWN_VILLAGE = "信访事项不能交办到村(社区)：村(居)民委员会不是信访事项的受理、办理机关"
DOWN_GRID = "网格不是办理单位，请交办到村(社区)"

# (row id, user, given, sent, expected). Intake rows send an intake; transition rows {"action", ...}.
# expected: ("created", {"origin", "handling", "repeat_of"}) · ("same_case", "<given>") ·
#           ("refused", {field: [message]}) · ("forbidden", None) · ("moved", {"status", "handling", "note"})
INTAKE_ROWS = [
    # 1. the units a user may file in
    ("township-clerk-at-a-grid", "qs.staff", None, _with(DISPUTE, origin="青石村第1网格"),
     ("refused", {"origin_unit_id": [GRID_ORIGIN]})),
    ("township-clerk-outside-jurisdiction", "qs.staff", None, _with(DISPUTE, origin="文昌社区"),
     ("refused", {"origin_unit_id": [OUTSIDE]})),
    ("village-cadre-at-its-grid", "qs01.cadre", None, _with(DISPUTE, origin="青石村第1网格"),
     ("created", {"origin": "青石村第1网格", "handling": "青石村", "repeat_of": None})),
    ("grid-worker-at-its-grid", "qs01.g1", None, _with(DISPUTE, origin="青石村第1网格", channel="grid_agent"),
     ("created", {"origin": "青石村第1网格", "handling": "青石村", "repeat_of": None})),
    ("grid-worker-at-another-grid", "qs01.g1", None, _with(DISPUTE, origin="青石村第2网格"),
     ("refused", {"origin_unit_id": [OUTSIDE]})),
    ("no-intake-right", "qs.leader", None, _with(DISPUTE, origin="青石镇"), ("forbidden", None)),
    # 1b. the handling unit a clerk may choose at intake
    ("handling-outside-jurisdiction", "qs.staff", None, _with(DISPUTE, origin="青石村", handling="城关街道"),
     ("refused", {"handling_unit_id": [HANDLING_OUTSIDE]})),
    ("handling-at-a-grid", "qs.staff", None, _with(DISPUTE, origin="青石村", handling="青石村第1网格"),
     ("refused", {"handling_unit_id": [HANDLING_GRID]})),
    ("petition-handled-by-a-village", "qs.staff", None, _with(PETITION, origin="青石镇", handling="青石村",
                                                              repeat_of="none"),
     ("refused", {"handling_unit_id": [HANDLING_VILLAGE]})),
    ("handling-above-the-origin", "qs01.cadre", None, _with(DISPUTE, origin="青石村", handling="青石镇"),
     ("created", {"origin": "青石村", "handling": "青石镇", "repeat_of": None})),
    ("handling-inside-jurisdiction", "qs.staff", None, _with(DISPUTE, origin="青石镇", handling="上坝村"),
     ("created", {"origin": "青石镇", "handling": "上坝村", "repeat_of": None})),
    ("accused-unit-a-grid", "qs.staff", None, _with(ACCUSATION, origin="青石村", accused="青石村第1网格"),
     ("refused", {"accused_unit_id": [ACCUSED_GRID]})),
    ("accusation-goes-above-the-accused", "qs.staff", None, _with(ACCUSATION, origin="青石村", accused="青石镇"),
     ("created", {"origin": "青石村", "handling": "示范区", "repeat_of": None})),
    # 2. the intake key
    ("intake-key-replay", "qs.staff", "my_keyed_case", _with(DISPUTE, origin="青石镇", intake_key=KEY),
     ("same_case", "my_keyed_case")),
    ("intake-key-of-another-users-case", "qs.staff", "others_keyed_case",
     _with(DISPUTE, origin="青石镇", intake_key=KEY), ("refused", {"intake_key": [KEY_TAKEN]})),
    # 2b. the repeat check
    ("repeat-candidate-unanswered", "qs.staff", "earlier", _with(PETITION, origin="青石镇"),
     ("refused", {"repeat_of": [REPEAT_ASK]})),
    ("repeat-candidate-linked", "qs.staff", "earlier", _with(PETITION, origin="青石镇", repeat_of="{earlier}"),
     ("created", {"origin": "青石镇", "handling": "青石镇", "repeat_of": "{earlier}"})),
    ("repeat-candidate-not-a-repeat", "qs.staff", "earlier", _with(PETITION, origin="青石镇", repeat_of="none"),
     ("created", {"origin": "青石镇", "handling": "青石镇", "repeat_of": None})),
    ("repeat-link-outside-jurisdiction", "qs.staff", "foreign", _with(PETITION, origin="青石镇",
                                                                      repeat_of="{foreign}"),
     ("refused", {"repeat_of": [REPEAT_UNSEEN]})),
]

TRANSITION_ROWS = [
    # 5. the note rules of 不予受理 and 导入法定程序 (center.cases.lifecycle.operations.transition)
    ("not-accept-without-reason", "qs.staff", "petition", {"action": "not_accept", "note": ""},
     ("refused", {"note": [NO_REASON]})),
    ("not-accept-with-reason", "qs.staff", "petition", {"action": "not_accept", "note": "不属于信访事项受理范围"},
     ("moved", {"status": "not_accepted", "handling": "青石镇", "note": "不属于信访事项受理范围"})),
    ("guide-to-legal-without-channel", "qs.staff", "petition", {"action": "guide_to_legal", "note": "已有仲裁途径"},
     ("refused", {"legal_channel": [NO_CHANNEL]})),
    ("guide-to-legal-with-channel", "qs.staff", "petition",
     {"action": "guide_to_legal", "note": "劳动争议", "legal_channel": "arbitration"},
     ("moved", {"status": "guided_to_legal", "handling": "青石镇", "note": "导入仲裁程序：劳动争议"})),
    # 3. which units may handle: the hand-down target
    ("hand-down-a-petition-to-a-village", "qs.staff", "petition", {"action": "hand_down", "unit": "青石村"},
     ("refused", {"unit_id": [DOWN_VILLAGE]})),
    ("hand-down-outside-the-handling-unit", "qs.staff", "dispute", {"action": "hand_down", "unit": "城关街道"},
     ("refused", {"unit_id": [DOWN_ONLY]})),
    ("hand-down-to-a-grid", "qs.staff", "dispute", {"action": "hand_down", "unit": "青石村第1网格"},
     ("refused", {"unit_id": [DOWN_GRID]})),
    ("hand-down-to-a-village", "qs.staff", "dispute", {"action": "hand_down", "unit": "青石村"},
     ("moved", {"status": "handed_down", "handling": "青石村", "note": None})),
    # 4. no view pre-check: the operation's require answers 403 on both channels
    ("accept-by-the-filing-grid-worker", "qs01.g1", "grid_dispute", {"action": "accept"}, ("forbidden", None)),
]

CHANNELS = ("form", "api")


# --- what exists first ----------------------------------------------------------------------------------------

def _op_fields(demo, sent: dict) -> dict:
    """A row's intake as register_case takes it (for givens made through the operation itself)."""
    out = {k: v for k, v in sent.items() if k in ("kind", "petition_class", "category", "channel", "summary",
                                                    "people_count", "risk_colour", "intake_key")}
    out["origin_unit"] = demo.unit(sent["origin"])
    out["parties"] = [{"role": "applicant", "kind": "person", **sent["applicant"]}]
    out["repeat_of"] = "none"
    return out


def _given(demo, name: str | None, sent: dict) -> dict:
    ctx: dict = {}
    if name is None:
        return ctx
    if name == "my_keyed_case":
        case = register_case(demo.actor("qs.staff"), **_op_fields(demo, sent))
    elif name == "others_keyed_case":
        case = register_case(demo.actor("qs.center"), **_op_fields(demo, sent))
    elif name == "earlier":
        case = register_case(demo.actor("qs.staff"), **_op_fields(demo, _with(
            PETITION, origin="青石镇", summary="征收补偿款未足额发放")))
    elif name == "foreign":
        case = register_case(demo.actor("cg.staff"), **_op_fields(demo, _with(
            PETITION, origin="城关街道", applicant={"name": "城关人", "phone": "13400005555"})))
    elif name == "petition":
        case = register_case(demo.actor("qs.staff"), **_op_fields(demo, _with(PETITION, origin="青石镇")))
    elif name == "dispute":
        case = register_case(demo.actor("qs.staff"), **_op_fields(demo, _with(DISPUTE, origin="青石镇")))
    elif name == "grid_dispute":
        case = register_case(demo.actor("qs01.g1"), **_op_fields(demo, _with(
            DISPUTE, origin="青石村第1网格", channel="grid_agent")))
    else:  # pragma: no cover - a typo in a row
        raise AssertionError(name)
    demo.db.session.commit()
    ctx[name] = case.number
    return ctx


def _fill(value, ctx: dict):
    if isinstance(value, str):
        return value.format(**ctx)
    if isinstance(value, list):
        return [_fill(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ctx) for k, v in value.items()}
    return value


# --- sending it through each channel --------------------------------------------------------------------------

def _intake_form(demo, sent: dict) -> dict:
    data = {k: str(sent[k]) for k in ("kind", "category", "channel", "summary", "people_count", "risk_colour")}
    for key in ("petition_class", "intake_key", "repeat_of"):
        if key in sent:
            data[key] = sent[key]
    for key, unit in (("origin_unit_id", "origin"), ("handling_unit_id", "handling"), ("accused_unit_id", "accused")):
        if unit in sent:
            data[key] = str(demo.unit(sent[unit]).id)
    data.update({f"applicant_{k}": v for k, v in sent["applicant"].items()})
    return data


def _intake_body(demo, sent: dict) -> dict:
    body = {k: sent[k] for k in ("kind", "category", "channel", "summary", "people_count", "risk_colour")}
    for key in ("petition_class", "intake_key", "repeat_of"):
        if key in sent:
            body[key] = sent[key]
    for key, unit in (("origin_unit_id", "origin"), ("handling_unit_id", "handling"), ("accused_unit_id", "accused")):
        if unit in sent:
            body[key] = demo.unit(sent[unit]).id
    body["parties"] = [{"role": "applicant", "kind": "person", **sent["applicant"]}]
    return body


@contextmanager
def _rendered(app):
    """The templates a request rendered, with their context (the form's field errors are read from it)."""
    seen: list[tuple[str, dict]] = []

    def record(sender, template, context, **extra):
        seen.append((template.name, context))

    template_rendered.connect(record, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(record, app)


def _form_errors(seen, template: str) -> dict:
    for name, context in seen:
        if name == template and template == "cases/new.html":
            return dict(context["errors"])
        if name == template:
            for panel, ctx in context["panels"]:
                if panel == "cases/_panel_triage.html" and ctx.get("failed"):
                    return {("note" if k == "remark" else k): v for k, v in ctx["failed"]["errors"].items()}
    raise AssertionError(f"{template} was not rendered with errors: {[n for n, _ in seen]}")


def _number_from(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


def _send_intake(app, client, token, demo, channel, sent):
    """(kind of outcome, case number or field errors)."""
    if channel == "form":
        with _rendered(app) as seen:
            response = client.post("/cases/new", data={**_intake_form(demo, sent), "csrf_token": token})
        if response.status_code == 302:
            return "done", _number_from(response.headers["Location"])
        if response.status_code == 403:
            return "forbidden", None
        assert response.status_code == 422, response.get_data(as_text=True)[:800]
        return "refused", _form_errors(seen, "cases/new.html")
    response = client.post("/api/v1/cases", json=_intake_body(demo, sent), headers={"X-CSRFToken": token})
    if response.status_code in (200, 201):
        return "done", response.get_json()["number"]
    if response.status_code == 403:
        return "forbidden", None
    assert response.status_code == 422, response.get_data(as_text=True)[:800]
    return "refused", response.get_json()["error"]["fields"]


def _send_transition(app, client, token, demo, channel, number, sent):
    unit = demo.unit(sent["unit"]).id if "unit" in sent else None
    if channel == "form":
        data = {"csrf_token": token, "remark": sent.get("note", "")}
        if "legal_channel" in sent:
            data["legal_channel"] = sent["legal_channel"]
        if unit is not None:
            data["unit_id"] = str(unit)
        with _rendered(app) as seen:
            response = client.post(f"/cases/{number}/transitions/{sent['action']}", data=data)
        if response.status_code == 302:
            return "done", number
        if response.status_code == 403:
            return "forbidden", None
        assert response.status_code == 422, response.get_data(as_text=True)[:800]
        return "refused", _form_errors(seen, "cases/detail.html")
    body = {"action": sent["action"], **{k: sent[k] for k in ("note", "legal_channel") if k in sent}}
    if unit is not None:
        body["unit_id"] = unit
    response = client.post(f"/api/v1/cases/{number}/transitions", json=body, headers={"X-CSRFToken": token})
    if response.status_code == 200:
        return "done", number
    if response.status_code == 403:
        return "forbidden", None
    assert response.status_code == 422, response.get_data(as_text=True)[:800]
    return "refused", response.get_json()["error"]["fields"]


# --- nothing changed ------------------------------------------------------------------------------------------

def _count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _state(db) -> tuple:
    db.session.expire_all()
    cases = tuple(db.session.execute(select(Case.id, Case.status, Case.handling_unit_id).order_by(Case.id)).all())
    return (cases, _count(db, Party), _count(db, CaseEvent), _count(db, Deadline),
            _count(db, AuditEntry, AuditEntry.action != "permission.denied"))


def _denials(db) -> int:
    return _count(db, AuditEntry, AuditEntry.action == "permission.denied")


def _assert_refusal(db, before, denials, expected_kind):
    assert _state(db) == before, "a refusal changed the registry"
    if expected_kind == "forbidden":
        assert _denials(db) == denials + 1, "the denial was not recorded"


# --- the rows -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("user", "given", "sent", "expected"), [r[1:] for r in INTAKE_ROWS],
                         ids=[r[0] for r in INTAKE_ROWS])
def test_intake_rule_parity(app, db, demo, signed_in, channel, user, given, sent, expected):
    ctx = _given(demo, given, sent)
    sent = _fill(sent, ctx)
    client = signed_in(user)
    token = csrf_token(client)
    before, denials = _state(db), _denials(db)
    kind, result = _send_intake(app, client, token, demo, channel, sent)
    want, detail = expected
    if want == "created":
        assert kind == "done", result
        assert result not in ctx.values()
        case = db.session.scalar(select(Case).where(Case.number == result))
        detail = _fill(detail, ctx)
        assert (case.origin_unit.name, case.handling_unit.name) == (detail["origin"], detail["handling"])
        assert (case.repeat_of.number if case.repeat_of else None) == detail["repeat_of"]
        assert case.filed_by_user_id == demo.user(user).id
    elif want == "same_case":
        assert (kind, result) == ("done", ctx[detail])
        _assert_refusal(db, before, denials, want)  # a replay writes nothing either
    elif want == "refused":
        assert (kind, result) == ("refused", _fill(detail, ctx))
        _assert_refusal(db, before, denials, want)
    else:
        assert kind == "forbidden"
        _assert_refusal(db, before, denials, want)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("user", "given", "sent", "expected"), [r[1:] for r in TRANSITION_ROWS],
                         ids=[r[0] for r in TRANSITION_ROWS])
def test_transition_rule_parity(app, db, demo, signed_in, channel, user, given, sent, expected):
    number = _given(demo, given, {})[given]
    client = signed_in(user)
    token = csrf_token(client)
    before, denials = _state(db), _denials(db)
    kind, result = _send_transition(app, client, token, demo, channel, number, sent)
    want, detail = expected
    if want == "moved":
        assert kind == "done", result
        db.session.expire_all()
        case = db.session.scalar(select(Case).where(Case.number == number))
        event = case.events[-1]
        assert (case.status.value, case.handling_unit.name, event.note) == (
            detail["status"], detail["handling"], detail["note"])
        assert event.action == sent["action"]
    elif want == "refused":
        assert (kind, result) == ("refused", detail)
        _assert_refusal(db, before, denials, want)
    else:
        assert kind == "forbidden"
        _assert_refusal(db, before, denials, want)


def test_every_row_is_named_once():
    names = [r[0] for r in INTAKE_ROWS + TRANSITION_ROWS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("path", "data"), [
    ("owner", lambda demo: {"owner_leader_id": str(demo.user("qs.leader").id)}),
    ("regrade", lambda demo: {"new_colour": "orange", "regrade_reason": "涉及人数增加"}),
])
def test_pages_without_a_permission_pre_check_still_answer_403(app, db, demo, signed_in, path, data):
    """The owner and regrade pages (no API route) lost their `can` pre-check: the operation's require answers.
    A village head sees a township petition from his village (origin) but decides nothing on it."""
    number = register_case(demo.actor("qs.staff"), **_op_fields(demo, _with(PETITION, origin="青石村"))).number
    db.session.commit()
    client = signed_in("qs01.head")
    assert client.get(f"/cases/{number}").status_code == 200
    token = csrf_token(client)
    before, denials = _state(db), _denials(db)
    response = client.post(f"/cases/{number}/{path}", data={**data(demo), "csrf_token": token})
    assert response.status_code == 403
    _assert_refusal(db, before, denials, "forbidden")
