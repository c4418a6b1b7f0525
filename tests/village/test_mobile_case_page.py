"""The grid worker's phone case page (issue #10 item 8): her photos as thumbnails, the resident masked, the
category and the place — kept out of the summary — and a confirmation after each save."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from center.cases.models import Case, CaseEvent
from tests.village.test_mobile import _grid_case, _post, cases_with, filing, jpeg, post_filing


def _main(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def test_filing_keeps_the_place_out_of_the_summary_and_the_page_shows_it_apart(app, db, demo, login_as, client):
    from village.operations import filing_place

    login_as("qs01.g1")
    data = filing(place="3组村口排水沟旁")
    answer = post_filing(client, data, photos=[jpeg(), jpeg((640, 480), gps=False)])
    assert answer.status_code == 302
    [case] = cases_with(db, data["intake_key"])
    assert case.summary == data["summary"]  # what happened, nothing else
    assert "地点" not in case.summary and "3组" not in case.summary
    assert filing_place(case) == "3组村口排水沟旁"
    consent = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                        CaseEvent.action == "agent_consent"))
    assert "place" in consent.changed_fields

    html = _main(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert "已登记" in html
    facts = html[html.index('class="m-facts"'):html.index("</dl>")]
    assert "邻里纠纷" in facts and "3组村口排水沟旁" in facts  # category and place
    assert "王**" in facts and "139****1234" in facts  # the resident, masked
    assert "王秀兰" not in html and "13901011234" not in html
    # her photos, as thumbnails served by the case's attachment route
    thumbs = re.findall(r'<img src="(/cases/[^"]+/attachments/\d+)"', html)
    assert len(thumbs) == 2
    photo = client.get(thumbs[0])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    photo.close()
    # the desk sees the place too (on the 代办委托 entry of the timeline)
    from tests.conftest import login

    desk_client = app.test_client()
    login(desk_client, "qs01.cadre")
    desk = desk_client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "3组村口排水沟旁" in desk


def test_a_filing_without_a_place_shows_no_place(db, demo, login_as, client):
    from village.operations import filing_place

    login_as("qs01.g1")
    data = filing(place="")
    answer = post_filing(client, data)
    [case] = cases_with(db, data["intake_key"])
    assert filing_place(case) is None
    html = _main(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert "<dt>地点</dt>" not in html and "m-photos" not in html


def test_each_save_is_confirmed_on_the_case_page(db, demo, login_as, client):
    case = _grid_case(demo)
    login_as("qs01.g1")
    page = f"/m/cases/{case.number}"
    assert "已保存" not in _main(client.get(page).get_data(as_text=True))

    answer = _post(client, f"/m/cases/{case.number}/notes", {"note": "已到现场查看，灯杆倾斜"}, page,
                   {"photos": [(io.BytesIO(jpeg((800, 600))), "scene.jpg")]})
    assert answer.status_code == 302
    shown = _main(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert 'role="status">进展已保存。' in shown
    assert "赵**" in shown and "139****5678" in shown and "其他" in shown
    assert len(re.findall(r'<img src="/cases/[^"]+/attachments/\d+"', shown)) == 1  # the note's photo
    assert "进展已保存" not in _main(client.get(page).get_data(as_text=True))  # shown once

    answer = _post(client, f"/m/cases/{case.number}/escalation", {"reason": "涉及电力公司，村里协调不了"}, page)
    assert "上报申请已提交" in _main(client.get(answer.headers["Location"]).get_data(as_text=True))


def test_a_save_through_the_draft_script_is_confirmed_where_it_lands(db, demo, login_as, client):
    case = _grid_case(demo)
    login_as("qs01.g1")
    page = f"/m/cases/{case.number}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)
    answer = client.post(f"/m/cases/{case.number}/notes", data={"note": "离线时记下的进展", "csrf_token": token},
                         headers={"X-Draft-Submit": "1"}, content_type="multipart/form-data")
    assert answer.is_json and answer.json["url"] == page
    assert "进展已保存" in _main(client.get(answer.json["url"]).get_data(as_text=True))


def test_a_refused_save_is_not_confirmed(db, demo, login_as, client):
    case = _grid_case(demo)
    login_as("qs01.g1")
    page = f"/m/cases/{case.number}"
    answer = _post(client, f"/m/cases/{case.number}/escalation", {"reason": "   "}, page)
    assert answer.status_code == 422
    assert "上报申请已提交" not in answer.get_data(as_text=True)
    assert "上报申请已提交" not in client.get(page).get_data(as_text=True)
    assert db.session.scalar(select(Case).where(Case.id == case.id)) is not None
