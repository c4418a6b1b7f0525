"""Progress notes: anyone working the case, the grid worker of its grid included, adds a note with optional
photos; a user who cannot see the case gets 404; bad input changes nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from center.cases.models import Attachment, Case, CaseEvent
from tests.center.test_attachments import PE, gps_jpeg, pdf
from tests.conftest import csrf_from
from tests.factories import case_maker


@pytest.fixture()
def store_dir(app, tmp_path, monkeypatch):
    directory = tmp_path / "attachments"
    monkeypatch.setitem(app.config, "CASE_ATTACHMENT_DIR", str(directory))
    return directory


# A dispute the grid worker of 青石村第1网格 reported at the grid, committed.
_grid_case = case_maker(by="qs01.g1", origin="青石村第1网格", summary="网格上报：两户因鸡舍异味发生口角",
                        category="邻里纠纷", channel="grid_report", applicant="测试甲", respondent="测试乙",
                        repeat_of=None, commit=True)


def _note(client, case, note, photos=(), token=None):
    token = token or csrf_from(client.get(f"/cases/{case.number}").get_data(as_text=True))
    data = {"csrf_token": token, "note": note, "photos": [(io.BytesIO(c), n) for n, c in photos]}
    return client.post(f"/cases/{case.number}/notes", data=data, content_type="multipart/form-data")


def _notes(db, case) -> list[CaseEvent]:
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "note")))


def test_the_grid_worker_adds_a_note_with_a_photo(app, db, demo, signed_in, store_dir):
    case = _grid_case(demo)
    worker = signed_in("qs01.g1")
    response = _note(worker, case, "已上门劝解，双方同意鸡舍后移两米", [("IMG_7.jpg", gps_jpeg())])
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    [event] = _notes(db, case)
    assert event.note == "已上门劝解，双方同意鸡舍后移两米"
    assert event.actor_user_id == demo.user("qs01.g1").id
    [photo] = db.session.scalars(select(Attachment).where(Attachment.event_id == event.id)).all()
    assert (photo.case_id, photo.purpose, photo.content_type) == (case.id, "photo", "image/jpeg")
    served = worker.get(f"/cases/{case.number}/attachments/{photo.id}")
    assert served.status_code == 200 and Image.open(io.BytesIO(served.get_data())).getexif() == {}
    html = worker.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "进展记录" in html and "鸡舍后移两米" in html
    assert f'src="/cases/{case.number}/attachments/{photo.id}"' in html


def test_a_note_without_photos_from_the_handling_side(app, db, demo, signed_in, store_dir):
    case = _grid_case(demo)
    assert _note(signed_in("qs.staff"), case, "镇矛调中心已电话回访").status_code == 302
    assert [e.note for e in _notes(db, case)] == ["镇矛调中心已电话回访"]
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []


@pytest.mark.parametrize("username", ["qs01.g2", "cg.staff", "qs02.cadre"])
def test_users_who_cannot_see_the_case_get_404(app, db, demo, signed_in, store_dir, username):
    case = _grid_case(demo)
    client = signed_in(username)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    assert _note(client, case, "越界记录", token=token).status_code == 404
    assert _notes(db, case) == []


@pytest.mark.parametrize("what, note, photos, message", [
    ("an empty note", "", (), "此项为必填项"),
    ("a note too long", "长" * 2001, (), "不能超过 2000 个字符"),
    ("a PDF as a photo", "附上文件", (("scan.pdf", pdf()),), "只能附照片"),
    ("an executable as a photo", "附上照片", (("photo.jpg", PE),), "只能附照片"),
])
def test_bad_notes_are_refused_and_change_nothing(app, db, demo, signed_in, store_dir, what, note, photos, message):
    case = _grid_case(demo)
    response = _note(signed_in("qs01.g1"), case, note, photos)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, what
    assert message in body, what
    if note:
        assert note[:50] in body, "the typed note is kept"
    assert _notes(db, case) == []
    assert not store_dir.exists() or not any(p.is_file() for p in store_dir.rglob("*"))


def test_the_accused_unit_cannot_add_notes_to_an_accusation(app, db, demo, signed_in, store_dir):
    case = db.session.scalar(select(Case).where(Case.summary == "举报上坝村村务公开不实、账目不清"))
    client = signed_in("qs02.head")
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    assert _note(client, case, "查看", token=token).status_code == 404


def test_the_demo_note_has_its_photo(db, demo):
    case = db.session.scalar(select(Case).where(Case.summary == "兄弟二人因赡养老人费用分担发生纠纷"))
    [event] = _notes(db, case)
    assert event.actor_user_id == demo.user("qs02.cadre").id
    assert [a.content_type for a in db.session.scalars(select(Attachment).where(Attachment.event_id == event.id))] \
        == ["image/jpeg"]
