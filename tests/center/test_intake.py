"""Intake (登记) through the real HTTP client: petitions and disputes at every tier, bad input refused in
Chinese with nothing created, repeat detection before saving, and the idempotency key."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from center.cases.intake.operations import register_case
from center.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Party
from core.audit.models import AuditEntry
from core.errors import ValidationFailed
from tests.center.test_identity import make_resident_id
from tests.conftest import csrf_from
from tests.core.forms_spec import FormPage
from tests.factories import case_maker, make_case

ID_A = make_resident_id("990101", "19700315", "031")
ID_B = make_resident_id("990101", "19820704", "152")


def count(db, model=Case) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def open_form(client, path="/cases/new"):
    page = client.get(path)
    assert page.status_code == 200
    return page, csrf_from(page.get_data(as_text=True))


def petition(demo, **over) -> dict:
    data = {"kind": "petition", "petition_class": "appeal", "category": "征地拆迁", "channel": "visit",
            "origin_unit_id": str(demo.unit("青石镇").id), "summary": "反映土地征收补偿款未足额发放",
            "demands": "请求足额发放补偿款", "people_count": "6", "risk_colour": "orange",
            "occurred_on": "2025-03-01", "applicant_name": "王𠮷", "applicant_kind": "person",
            "applicant_id_type": "resident_id", "applicant_id_number": ID_A, "applicant_phone": "13812345678",
            "applicant_address": "青石镇青石村三组 12 号", "xinfang_no": "9901012026000123",
            "hotline_ticket": "12345-2026-0001", "court_case_no": "(2026)津0101民初123号"}
    return {**data, **over}


def post(client, token, data, path="/cases/new"):
    return client.post(path, data={**data, "csrf_token": token})


def case_of(db, response) -> Case:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    number = response.headers["Location"].rsplit("/", 1)[-1]
    return db.session.scalar(select(Case).where(Case.number == number))


# --- valid intake ---------------------------------------------------------------------------------------------

def test_a_township_clerk_registers_a_petition(db, demo, signed_in):
    client = signed_in("qs.staff")
    _, token = open_form(client)
    case = case_of(db, post(client, token, {**petition(demo), "intake_key": "k-petition-1"}))
    assert case.kind == CaseKind.petition and case.status == CaseStatus.registered
    assert case.origin_unit.name == "青石镇" and case.handling_unit.name == "青石镇"
    assert case.is_collective and case.occurred_on == date(2025, 3, 1) and case.intake_key == "k-petition-1"
    assert (case.xinfang_no, case.hotline_ticket) == ("9901012026000123", "12345-2026-0001")
    assert case.filed_by_user_id == demo.user("qs.staff").id
    [party] = case.parties
    assert party.name == "王𠮷" and party.id_number_enc and ID_A not in party.id_number_enc
    page = client.get(f"/cases/{case.number}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "反映土地征收补偿款未足额发放" in text and ID_A not in text


def test_a_village_cadre_registers_a_dispute(db, demo, signed_in):
    client = signed_in("qs01.cadre")
    page, token = open_form(client)
    assert f'value="{demo.unit("青石村").id}" selected' in page.get_data(as_text=True)  # their own unit
    data = {"kind": "dispute", "category": "邻里纠纷", "channel": "visit", "origin_unit_id": str(demo.unit("青石村").id),
            "summary": "两户因排水沟走向发生争执", "people_count": "2", "risk_colour": "blue",
            "applicant_name": "赵大", "applicant_phone": "022-2345 6789",
            "respondent_name": "钱二", "respondent_phone": "13900001111"}
    case = case_of(db, post(client, token, data))
    assert case.kind == CaseKind.dispute and case.petition_class is None and not case.is_collective
    assert case.handling_unit.name == "青石村"
    assert sorted(p.role for p in case.parties) == ["applicant", "respondent"]


def test_a_grid_worker_files_from_their_grid(db, demo, signed_in):
    client = signed_in("qs01.g1")
    grid = demo.unit("青石村第1网格")
    page, token = open_form(client)
    html = page.get_data(as_text=True)
    assert f'value="{grid.id}" selected' in html and 'value="grid_agent" selected' in html
    assert f'value="{demo.unit("青石村第2网格").id}"' not in html  # another grid is not theirs
    data = {"kind": "dispute", "category": "邻里纠纷", "channel": "grid_agent", "origin_unit_id": str(grid.id),
            "summary": "楼上漏水殃及楼下，协商不成", "people_count": "2", "risk_colour": "yellow",
            "applicant_name": "孙三", "applicant_phone": "13700001234"}
    case = case_of(db, post(client, token, data))
    assert case.origin_unit_id == grid.id and case.handling_unit.name == "青石村"
    assert client.get(f"/cases/{case.number}").status_code == 200  # the filer keeps sight of it


def test_the_unit_parameter_preselects_the_origin(db, demo, signed_in):
    client = signed_in("qs.staff")
    village = demo.unit("上坝村")
    origin = FormPage(client.get(f"/cases/new?unit={village.id}").get_data(as_text=True)).selects["origin_unit_id"]
    assert origin["selected"] == [str(village.id)]
    assert str(demo.unit("青石镇").id) in origin["options"]
    assert str(demo.unit("青石村第1网格").id) not in origin["options"]  # a township files at village level or above
    foreign = demo.unit("文昌社区")  # 城关街道: not qs.staff's
    origin = FormPage(client.get(f"/cases/new?unit={foreign.id}").get_data(as_text=True)).selects["origin_unit_id"]
    assert str(foreign.id) not in origin["options"] and origin["selected"] == [str(demo.unit("青石镇").id)]
    assert client.get("/cases/new?unit=abc").status_code == 200


@pytest.mark.parametrize("username", ["center.li", "qs.staff", "qs.center", "qs01.head", "qs01.cadre", "qs01.g1"])
def test_every_intake_role_reaches_the_form_and_others_get_403(db, demo, signed_in, username):
    assert signed_in(username).get("/cases/new").status_code == 200


@pytest.mark.parametrize("username", ["qs.leader", "leader.wang", "xinfang.liaison", "admin"])
def test_users_without_intake_get_403(db, demo, signed_in, username):
    client = signed_in(username)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    before = count(db)
    assert client.get("/cases/new").status_code == 403
    assert post(client, token, petition(demo)).status_code == 403
    assert count(db) == before


# --- bad input -----------------------------------------------------------------------------------------------

BAD = [
    ("applicant_id_number", ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"), "校验位"),
    ("applicant_phone", "12345", "电话号码格式不正确"),
    ("occurred_on", (date.today() + timedelta(days=2)).isoformat(), "发生日期不能晚于今天"),
    ("applicant_name", "", "此项为必填项"),
    ("petition_class", "", "信访事项须选择类别"),
    ("origin_unit_id", "999999", "请从列表中选择本辖区内的登记单位"),
    ("accused_unit_id", "999999", "请从列表中选择被检举控告的单位"),
    ("category", "不存在的类别", "请从列表中选择事项类别"),
    ("people_count", "0", "应在"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD)
def test_bad_intake_is_refused_in_chinese_and_creates_nothing(db, demo, signed_in, field, value, message):
    client = signed_in("qs.staff")
    _, token = open_form(client)
    before = (count(db), count(db, Party), count(db, CaseEvent), count(db, AuditEntry))
    response = post(client, token, petition(demo, **{"applicant_id_number": ID_B, field: value}))
    text = response.get_data(as_text=True)
    assert response.status_code == 422, text[:500]
    assert message in text and "提交的内容有误" in text
    assert (count(db), count(db, Party), count(db, CaseEvent), count(db, AuditEntry)) == before
    assert "反映土地征收补偿款未足额发放" in text  # the typing is kept


def test_a_foreign_origin_unit_is_refused(db, demo, signed_in):
    client = signed_in("qs01.cadre")
    _, token = open_form(client)
    before = count(db)
    data = {"kind": "dispute", "category": "其他", "channel": "visit", "origin_unit_id": str(demo.unit("上坝村").id),
            "summary": "越权登记测试", "risk_colour": "blue", "applicant_name": "测试"}
    response = post(client, token, data)
    assert response.status_code == 422 and count(db) == before


# --- repeats --------------------------------------------------------------------------------------------------

# The earlier petition of 王𠮷 at 青石镇, committed; the repeat question is asked (repeat_of=None), as at intake.
earlier_case = case_maker(kind="petition", origin="青石镇", summary="征收补偿款未足额发放", category="征地拆迁",
                          applicant={"name": "王𠮷", "id_number": ID_A, "phone": "13812345678"}, repeat_of=None,
                          commit=True)


def test_a_repeat_is_shown_before_saving_and_linked_on_request(db, demo, signed_in):
    first = earlier_case(demo)
    client = signed_in("qs.staff")
    _, token = open_form(client)
    before = count(db)
    data = petition(demo, summary="征地补偿款至今没有发够", intake_key="k-repeat-1")
    shown = post(client, token, data)
    text = shown.get_data(as_text=True)
    assert shown.status_code == 422 and count(db) == before  # not saved yet: the clerk must answer
    assert first.number in text and "征收补偿款未足额发放" in text and f"关联为重复件: {first.number}" in text
    listed = text[text.index("发现可能的重复件"):text.index("</section>", text.index("发现可能的重复件"))]
    assert "不是重复件" in listed and "王*" in listed and "138****5678" in listed
    assert ID_A not in listed and "13812345678" not in listed and "王𠮷" not in listed
    linked = case_of(db, post(client, token, {**data, "repeat_of": first.number}))
    assert linked.repeat_of_case_id == first.id
    register = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == linked.id))
    assert first.number in register.note


def test_not_a_repeat_saves_without_a_link(db, demo, signed_in):
    earlier_case(demo)
    client = signed_in("qs.staff")
    _, token = open_form(client)
    case = case_of(db, post(client, token, {**petition(demo), "repeat_of": "none"}))
    assert case.repeat_of_case_id is None


def test_same_name_and_phone_about_another_matter_is_no_repeat(db, demo, signed_in):
    earlier_case(demo, parties=[{"role": "applicant", "kind": "person", "name": "王𠮷", "phone": "13812345678"}])
    client = signed_in("qs.staff")
    _, token = open_form(client)
    other = petition(demo, summary="儿子在学校被同学打伤", applicant_id_number="")
    assert post(client, token, other).status_code == 302  # saved at once: no candidate
    _, token = open_form(client)
    same = petition(demo, summary="征地补偿款至今没有发够", applicant_id_number="")
    assert post(client, token, same).status_code == 422  # same person, similar matter: shown, not saved


def test_same_document_number_is_a_candidate_whatever_the_matter(db, demo, signed_in):
    first = earlier_case(demo)
    client = signed_in("qs.staff")
    _, token = open_form(client)
    response = post(client, token, petition(demo, summary="儿子在学校被同学打伤", applicant_phone=""))
    assert response.status_code == 422 and first.number in response.get_data(as_text=True)


def test_a_repeat_link_outside_jurisdiction_is_refused(db, demo, signed_in):
    foreign = make_case(demo, "cg.staff", "城关街道", "petition", summary="城关事项", applicant="测试", repeat_of=None,
                        commit=True)
    client = signed_in("qs.staff")
    _, token = open_form(client)
    before = count(db)
    response = post(client, token, {**petition(demo), "repeat_of": foreign.number})
    assert response.status_code == 422 and count(db) == before
    assert "所选的重复事项不存在或不在您的辖区内" in response.get_data(as_text=True)


# --- idempotency ----------------------------------------------------------------------------------------------

def test_a_double_submit_makes_one_case(db, demo, signed_in):
    client = signed_in("qs.staff")
    _, token = open_form(client)
    data = {**petition(demo), "intake_key": "k-double-1"}
    first = case_of(db, post(client, token, data))
    counts = (count(db), count(db, CaseEvent), count(db, AuditEntry))
    again = post(client, token, data)
    assert again.status_code == 302 and again.headers["Location"].endswith(first.number)
    assert (count(db), count(db, CaseEvent), count(db, AuditEntry)) == counts
    other = signed_in("qs.center")
    _, other_token = open_form(other)
    refused = post(other, other_token, data)
    assert refused.status_code == 422 and "登记标识已被使用" in refused.get_data(as_text=True)
    assert count(db) == counts[0]


def test_register_case_intake_key_and_occurred_on(db, demo):
    def go(who="qs.staff", key="k-op-1", **kw):
        return register_case(demo.actor(who), kind="dispute", summary="幂等测试", category="其他", channel="visit",
                             origin_unit=demo.unit("青石村"), intake_key=key,
                             parties=[{"role": "applicant", "kind": "person", "name": "测试"}], **kw)

    case = go(occurred_on=date(2026, 1, 5))
    counter = (count(db), count(db, CaseEvent), count(db, AuditEntry))
    assert go() is case and (count(db), count(db, CaseEvent), count(db, AuditEntry)) == counter
    with pytest.raises(ValidationFailed) as other:
        go("qs01.head")
    assert "intake_key" in other.value.errors
    with pytest.raises(ValidationFailed) as long_key:
        go(key="k" * 65)
    assert "intake_key" in long_key.value.errors
    with pytest.raises(ValidationFailed) as future:
        go(key="k-op-2", occurred_on=date.today() + timedelta(days=3))
    assert future.value.errors["occurred_on"] == ["发生日期不能晚于今天"]
    assert case.occurred_on == date(2026, 1, 5)
