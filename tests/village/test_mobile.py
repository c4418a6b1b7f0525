"""The grid worker's phone desk through the real HTTP stack: 代办 filing (with photo, consent and the
idempotency key), the case page actions (note with photo, follow-up with evaluation, escalation request) and
their refusals."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from sqlalchemy import func, select

from center.cases.models import Attachment, Case, CaseChannel, CaseEvent, Evaluation, FollowUpVisit
from notify.models import Notification
from tests.conftest import csrf_from
from tests.factories import case_maker

GRID = "青石村第1网格"


def jpeg(size=(1200, 900), *, gps=True) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (180, 120, 60))
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (120.0, 9.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def filing(**overrides) -> dict:
    data = {"kind": "dispute", "name": "王秀兰", "id_type": "resident_id", "id_number": "", "phone": "13901011234",
            "summary": "邻居在自家院墙外堆放建筑垃圾，堵住排水沟，下雨后积水进屋", "demands": "请求清理垃圾、疏通排水沟",
            "category": "邻里纠纷", "place": "3组村口", "people_count": "2", "consent": "1",
            "intake_key": uuid.uuid4().hex}
    data.update(overrides)
    return data


def post_filing(client, data, photos=(), headers=None):
    page = client.get("/m/file")
    assert page.status_code == 200
    body = {**data, "csrf_token": csrf_from(page.get_data(as_text=True))}
    if photos:
        body["photos"] = [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]
    return client.post("/m/file", data=body, content_type="multipart/form-data", headers=headers or {})


def cases_with(db, key: str) -> list[Case]:
    return list(db.session.scalars(select(Case).where(Case.intake_key == key)))


def test_a_grid_worker_files_for_a_resident_and_the_township_sees_it_at_once(app, db, demo, login_as, client):
    login_as("qs01.g1")
    data = filing()
    answer = post_filing(client, data, photos=[jpeg()])
    assert answer.status_code == 302 and "/m/cases/" in answer.headers["Location"]
    [case] = cases_with(db, data["intake_key"])
    assert case.channel == CaseChannel.grid_agent and case.origin_unit.name == GRID
    assert case.handling_unit.name == "青石村" and case.filed_by_user_id == demo.user("qs01.g1").id
    assert [e.action for e in case.events] == ["register", "agent_consent"]
    photo = db.session.scalar(select(Attachment).where(Attachment.case_id == case.id))
    assert photo.purpose == "photo" and photo.content_type == "image/jpeg"
    # the village desk staff heard of it
    told = db.session.scalars(select(Notification).where(Notification.event == "case.agent_filed")).all()
    assert {n.user_id for n in told} >= {demo.user("qs01.cadre").id}
    shown = client.get(answer.headers["Location"])
    assert shown.status_code == 200 and case.number in shown.get_data(as_text=True)
    # the township desk sees it at once
    township = app.test_client()
    from tests.conftest import login

    login(township, "qs.staff")
    assert case.number in township.get("/township/").get_data(as_text=True)
    assert township.get(f"/cases/{case.number}").status_code == 200


def test_a_double_or_late_submit_makes_one_case(db, login_as, client):
    login_as("qs01.g1")
    data = filing()
    first = post_filing(client, data, headers={"X-Draft-Submit": "1"})
    assert first.status_code == 200 and first.is_json and first.json["url"].startswith("/m/cases/")
    again = post_filing(client, data, headers={"X-Draft-Submit": "1"})
    assert again.json["url"] == first.json["url"]
    assert len(cases_with(db, data["intake_key"])) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("consent", "", "委托"),
    ("phone", "12345", "电话"),
    ("id_number", "110101199003071234", "校验"),
    ("summary", "", "必填"),
])
def test_bad_input_is_refused_in_chinese_and_files_nothing(db, login_as, client, field, value, message):
    login_as("qs01.g1")
    data = filing(**{field: value})
    if field == "consent":
        data.pop("consent")
    before = db.session.scalar(select(func.count(Case.id)))
    answer = post_filing(client, data)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and message in html
    assert data["summary"][:6] in html or field == "summary"  # what was typed is kept
    assert db.session.scalar(select(func.count(Case.id))) == before


def test_a_submit_without_a_session_files_nothing_and_is_told_to_sign_in(app, db):
    anonymous = app.test_client()
    data = filing()
    answer = anonymous.post("/m/file", data=data, headers={"X-Draft-Submit": "1"})
    assert answer.status_code in (302, 400)  # to sign-in, or refused for want of a CSRF token
    assert cases_with(db, data["intake_key"]) == []


# A dispute the grid worker reported at GRID (applicant 赵大爷 with a phone), committed.
_grid_case = case_maker(by="qs01.g1", origin=GRID, summary="路灯损坏，夜间出行不便", channel="grid_report",
                        applicant={"name": "赵大爷", "phone": "13901015678"}, repeat_of=None, commit=True)


def _post(client, path, data, page=None, files=None):
    token = csrf_from(client.get(page or "/m/").get_data(as_text=True))
    body = {**data, "csrf_token": token, **(files or {})}
    return client.post(path, data=body, content_type="multipart/form-data")


def test_note_with_a_photo_and_an_escalation_request(db, demo, login_as, client):
    case = _grid_case(demo)
    login_as("qs01.g1")
    page = f"/m/cases/{case.number}"
    assert client.get(page).status_code == 200
    answer = _post(client, f"/m/cases/{case.number}/notes", {"note": "已到现场查看，灯杆倾斜"}, page,
                   {"photos": [(io.BytesIO(jpeg((800, 600))), "scene.jpg")]})
    assert answer.status_code == 302
    answer = _post(client, f"/m/cases/{case.number}/escalation", {"reason": "涉及电力公司，村里协调不了"}, page)
    assert answer.status_code == 302
    actions = [e.action for e in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert actions[-2:] == ["note", "escalation_requested"]
    assert db.session.scalar(select(Notification).where(Notification.event == "case.escalation_requested")) is not None


def test_another_grids_worker_cannot_touch_the_case(db, demo, login_as, client):
    case = _grid_case(demo)
    login_as("qs01.g2")
    assert client.get(f"/m/cases/{case.number}").status_code == 404
    answer = _post(client, f"/m/cases/{case.number}/notes", {"note": "试图记录"})
    assert answer.status_code == 404
    assert db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id,
                                                                     CaseEvent.action == "note")) == 0


def test_follow_up_visit_with_the_residents_evaluation(app, db, demo, login_as, client):
    from center.cases.demo import _ready_to_close
    from center.cases.lifecycle.operations import transition
    from core.db import utcnow

    case = _grid_case(demo, summary="邻里因宅前通道发生争执")
    for action, who in (("accept", "qs01.head"), ("mediate", "qs01.cadre")):
        transition(case, action, actor=demo.actor(who))
    _ready_to_close(case, {n: demo.user(n) for n in ("qs.staff", "qs.leader", "qs01.cadre", "qs01.head")},
                    at=utcnow())
    transition(case, "answer", actor=demo.actor("qs01.cadre"))
    transition(case, "close", actor=demo.actor("qs01.head"))
    db.session.commit()
    login_as("qs01.g1")
    home = client.get("/m/").get_data(as_text=True)
    assert case.number in home and "待回访" in home
    page = f"/m/cases/{case.number}"
    answer = _post(client, f"/m/cases/{case.number}/follow-up",
                   {"method": "home", "notes": "入户回访，通道已清理，双方和好", "rating": "satisfied"}, page)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    visit = db.session.scalar(select(FollowUpVisit).where(FollowUpVisit.case_id == case.id))
    assert visit.seq == 1 and visit.visitor_user_id == demo.user("qs01.g1").id
    evaluation = db.session.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    assert evaluation.rating == "satisfied" and evaluation.source == "follow_up"
    db.session.refresh(case)
    assert case.status == "evaluated"
    assert case.number not in client.get("/m/").get_data(as_text=True)  # no visit due any more


def test_the_draft_script_and_styles_are_served_from_the_app(client, login_as):
    login_as("qs01.g1")
    html = client.get("/m/file").get_data(as_text=True)
    assert 'data-draft="agent-filing"' in html and "/m/static/mobile.js" in html
    script = client.get("/m/static/mobile.js")
    body = script.get_data()
    script.close()
    assert script.status_code == 200 and b"X-Draft-Submit" in body
    assert json.dumps("https://") not in html  # nothing from another host
