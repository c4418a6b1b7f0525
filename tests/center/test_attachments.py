"""Attachments: type checked by content, photos without EXIF/GPS, size caps, content-addressed storage outside
the web root, and served only to users who may see the case (404 otherwise, 检举控告 rule included)."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import select

from center.cases.models import Attachment, Case, CaseEvent
from tests.conftest import csrf_from

IN_WORK = "反映镇中心小学周边交通安全隐患"   # 青石镇
ACCUSATION = "举报上坝村村务公开不实、账目不清"  # accuses 上坝村


@pytest.fixture()
def store_dir(app, tmp_path, monkeypatch):
    directory = tmp_path / "attachments"
    monkeypatch.setitem(app.config, "CASE_ATTACHMENT_DIR", str(directory))
    return directory


def _stored_files(directory) -> list:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def _case(db, summary=IN_WORK) -> Case:
    return db.session.scalar(select(Case).where(Case.summary == summary))


def gps_jpeg(size=(400, 300)) -> bytes:
    """A photo as a phone leaves it: camera make, orientation "rotate 90°" and a GPS position in EXIF."""
    im = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the fixture carries GPS"
    return data


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 30, 30, 128)).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 300
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _upload(client, case, files, token=None, **fields):
    token = token or csrf_from(client.get(f"/cases/{case.number}").get_data(as_text=True))
    data = {"csrf_token": token, "file": [(io.BytesIO(content), name) for name, content in files], **fields}
    return client.post(f"/cases/{case.number}/attachments", data=data, content_type="multipart/form-data")


def test_a_photo_comes_back_upright_and_without_exif_or_gps(app, db, demo, signed_in, store_dir):
    case = _case(db)
    staff = signed_in("qs.staff")
    response = _upload(staff, case, [("IMG_0001.JPG", gps_jpeg())], purpose="photo")
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    row = db.session.scalar(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id.desc()))
    assert (row.filename, row.content_type, row.purpose) == ("IMG_0001.jpg", "image/jpeg", "photo")
    event = db.session.get(CaseEvent, row.event_id)
    assert event.action == "attachment" and "IMG_0001.jpg" in event.note

    served = staff.get(f"/cases/{case.number}/attachments/{row.id}")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in served.headers["Content-Security-Policy"]
    body = served.get_data()
    assert b"Exif" not in body and b"TestCam" not in body
    back = Image.open(io.BytesIO(body))
    assert back.getexif() == {} and "exif" not in back.info
    assert back.size == (300, 400)  # the orientation was applied before the metadata went
    # content-addressed, outside the web root, complete
    assert row.sha256 == hashlib.sha256(body).hexdigest() and row.size == len(body)
    files = _stored_files(store_dir)
    assert [p.relative_to(store_dir).as_posix() for p in files] == [row.storage_key]
    assert row.storage_key == f"{row.sha256[:2]}/{row.sha256}"


def test_a_pdf_is_kept_and_served_as_a_download(app, db, demo, signed_in, store_dir):
    case = _case(db)
    staff = signed_in("qs.staff")
    assert _upload(staff, case, [("答复意见书.pdf", pdf())], purpose="agreement").status_code == 302
    row = db.session.scalar(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id.desc()))
    served = staff.get(f"/cases/{case.number}/attachments/{row.id}")
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.get_data() == pdf()


def test_big_photos_are_scaled_down(app, db, demo, store_dir):
    from center.cases.attachments.operations import MAX_EDGE, check_file

    prepared = check_file("big.png", png((4000, 1000)))
    assert Image.open(io.BytesIO(prepared.data)).size == (MAX_EDGE, MAX_EDGE // 4)


@pytest.mark.parametrize("what, name, content", [
    ("a Windows executable named .jpg", "photo.jpg", PE),
    ("an ELF executable named .jpg", "photo.jpg", ELF),
    ("an HTML page named .pdf", "answer.pdf", HTML),
    ("an SVG named .png", "image.png", SVG),
    ("a PDF without its end", "cut.pdf", pdf()[:40]),
    ("a truncated JPEG", "cut.jpg", gps_jpeg()[:300]),
    ("a GIF", "anim.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
                          b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"),
    ("an empty file", "empty.jpg", b""),
])
def test_foreign_files_are_refused_by_content_and_nothing_is_stored(app, db, demo, signed_in, store_dir, what, name,
                                                                     content):
    case = _case(db)
    before = db.session.scalars(select(Attachment.id)).all()
    response = _upload(signed_in("qs.staff"), case, [(name, content)])
    body = response.get_data(as_text=True)
    assert response.status_code == 422, what
    assert "JPEG" in body or "为空" in body or "过大" in body, what
    assert db.session.scalars(select(Attachment.id)).all() == before, what
    assert _stored_files(store_dir) == [], what


def test_one_bad_file_refuses_the_whole_upload(app, db, demo, signed_in, store_dir):
    case = _case(db)
    response = _upload(signed_in("qs.staff"), case, [("ok.png", png()), ("evil.jpg", PE)])
    assert response.status_code == 422
    assert _stored_files(store_dir) == []
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []


def test_a_file_over_the_attachment_cap_is_refused(app, db, demo, signed_in, store_dir, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_ATTACHMENT_MAX_BYTES", 4096)
    case = _case(db)
    response = _upload(signed_in("qs.staff"), case, [("big.pdf", pdf() + b"%" + b"x" * 5000 + b"\n%%EOF\n")])
    assert response.status_code == 422
    assert "文件过大" in response.get_data(as_text=True)
    assert _stored_files(store_dir) == []


def test_a_request_over_the_request_cap_gets_413_not_500(app, db, demo, signed_in, store_dir, monkeypatch):
    case = _case(db)
    staff = signed_in("qs.staff")
    token = csrf_from(staff.get(f"/cases/{case.number}").get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50_000)
    response = _upload(staff, case, [("huge.pdf", pdf() + b"x" * 60_000)], token=token)
    assert response.status_code == 413
    assert "过大" in response.get_data(as_text=True)
    assert _stored_files(store_dir) == []


def test_a_decompression_bomb_is_refused(app, db, demo, store_dir):
    from center.cases.attachments.operations import check_file
    from core.errors import ValidationFailed

    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")
    with pytest.raises(ValidationFailed) as refused:
        check_file("bomb.png", out.getvalue())
    assert "像素" in refused.value.errors["file"][0]


def _attachment(db, case) -> Attachment:
    from center.cases.attachments.operations import check_files, upload
    from core.actor import Actor

    rows = upload(case, check_files([("现场.png", png())]), actor=Actor.system("cli"))
    db.session.commit()
    return rows[0]


def test_another_townships_user_gets_404(app, db, demo, signed_in, store_dir):
    case = _case(db)
    row = _attachment(db, case)
    url = f"/cases/{case.number}/attachments/{row.id}"
    assert signed_in("qs.staff").get(url).status_code == 200
    outsider = signed_in("cg.staff")
    response = outsider.get(url)
    assert response.status_code == 404
    assert response.mimetype == "text/html" and b"PNG" not in response.get_data()
    token = csrf_from(outsider.get("/account/password").get_data(as_text=True))
    upload = outsider.post(f"/cases/{case.number}/attachments", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(png()), "x.png")})
    assert upload.status_code == 404


def test_an_attachment_is_served_only_under_its_own_case(app, db, demo, signed_in, store_dir):
    case = _case(db)
    other = _case(db, "反映村组道路硬化工程质量问题")  # also 青石镇's: visible to qs.staff
    row = _attachment(db, other)
    staff = signed_in("qs.staff")
    assert staff.get(f"/cases/{other.number}/attachments/{row.id}").status_code == 200
    assert staff.get(f"/cases/{case.number}/attachments/{row.id}").status_code == 404
    assert staff.get(f"/cases/{case.number}/attachments/999999").status_code == 404


def test_the_accused_unit_never_gets_the_file(app, db, demo, signed_in, store_dir):
    case = _case(db, ACCUSATION)
    row = _attachment(db, case)
    url = f"/cases/{case.number}/attachments/{row.id}"
    assert signed_in("qs.staff").get(url).status_code == 200
    for accused in ("qs02.head", "qs02.cadre"):
        assert signed_in(accused).get(url).status_code == 404, accused


def test_the_case_page_lists_the_files_and_offers_the_upload(app, db, demo, signed_in, store_dir):
    case = _case(db)
    row = _attachment(db, case)
    html = signed_in("qs.staff").get(f"/cases/{case.number}").get_data(as_text=True)
    assert "附件" in html and row.filename in html and "上传附件" in html
    assert f"/cases/{case.number}/attachments/{row.id}" in html


def test_stored_files_are_written_once_and_atomically(app, db, demo, store_dir):
    from center.cases.attachments.operations import check_file, store

    prepared = check_file("a.png", png())
    key = store(prepared)
    assert store(prepared) == key
    files = _stored_files(store_dir)
    assert len(files) == 1 and not any(p.name.startswith(".upload-") for p in files)
    assert files[0].read_bytes() == prepared.data
