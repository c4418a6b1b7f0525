"""One upload cannot stall others (#10 item 11): an image's size is read from its header and capped before
anything is decoded, a JPEG is decoded at reduced scale, the peak memory of the largest accepted photo of each
kind stays near 50 MB, and the decoding runs after the request's transaction has been ended — never under
SQLite's write lock (the two-client test is tests/village/test_photo_burst.py)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from center.cases.attachments import operations as attachments
from center.cases.models import Attachment, Case
from core.errors import ValidationFailed
from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header declares ``width`` × ``height`` (built by hand: letting Pillow
    make a real one would itself take width × height bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = zlib.compress(b"\0" + b"\0" * 3 * width)  # one row of many; decoding would need all of them
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_an_image_over_the_cap_is_refused_from_its_header(app, db, demo):
    data = png_declaring(20000, 20000)  # 400 Mpx: 1.6 GB once decoded
    assert len(data) < 1000
    with pytest.raises(ValidationFailed) as refused:
        attachments.check_file("巨幅.png", data, field="photos", images_only=True)
    message = refused.value.errors["photos"][0]
    assert message.startswith("图片尺寸过大") and "百万像素" in message
    # Under Pillow's own limit our cap answers, naming the size and the cap.
    with pytest.raises(ValidationFailed) as refused:
        attachments.check_file("大图.png", png_declaring(3000, 2500), field="photos", images_only=True)
    assert refused.value.errors["photos"] == ["图片尺寸过大（3000×2500），请上传不超过 6 百万像素的图片"]
    with pytest.raises(ValidationFailed) as refused:
        attachments.check_file("大图.png", png_declaring(9000, 6000))
    assert "百万像素" in refused.value.errors["file"][0]


def test_the_form_refuses_it_and_writes_nothing(app, db, demo, signed_in, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_ATTACHMENT_DIR", str(tmp_path / "att"))
    case = db.session.scalars(select(Case).where(Case.summary == "反映镇中心小学周边交通安全隐患")).one()
    client = signed_in("qs.staff")
    token = csrf_from(client.get(f"/cases/{case.number}").get_data(as_text=True))
    before = db.session.scalar(select(func.count(Attachment.id)))
    response = client.post(f"/cases/{case.number}/attachments", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": [(io.BytesIO(png_declaring(20000, 20000)), "a.png")]})
    assert response.status_code == 422 and "图片尺寸过大" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attachment.id))) == before
    assert not (tmp_path / "att").exists() or not any((tmp_path / "att").rglob("*"))


@pytest.mark.parametrize(("width", "height", "scale"), [
    (8000, 6000, 4), (8660, 5773, 4), (4032, 3024, 2), (4000, 3000, 2), (3264, 2448, 2), (2999, 2000, 1),
    (2048, 1536, 1), (640, 480, 1), (16000, 2000, 4), (4000, 4000, 2)])
def test_a_jpeg_is_decoded_at_the_scale_that_keeps_within_the_cap(width, height, scale):
    assert attachments._jpeg_scale(width, height) == scale
    assert -(-width // scale) * -(-height // scale) <= attachments.MAX_DECODED_PIXELS


def test_a_large_phone_photo_is_kept_near_max_edge(app):
    out = io.BytesIO()
    Image.radial_gradient("L").resize((8000, 6000)).convert("RGB").save(out, "JPEG")
    with app.app_context():
        prepared = attachments.check_file("phone.jpg", out.getvalue(), images_only=True)
    assert Image.open(io.BytesIO(prepared.data)).size == (2000, 1500)


# --- peak memory ------------------------------------------------------------------------------------------------

#: Runs in a fresh process, so nothing freed by an earlier image hides this one's cost. Pillow allocates pixels
#: with malloc, which tracemalloc does not see: the peak resident set (VmHWM, reset just before) is the measure;
#: tracemalloc's peak (Python objects: the input and output bytes) is reported beside it.
MEASURE = r"""
import io, json, sys, tracemalloc
from PIL import Image
from center.cases.attachments import operations as attachments
fmt, width, height, progressive = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
noise = Image.effect_noise((width // 8, height // 8), 40).resize((width, height))
out = io.BytesIO()
Image.merge("RGB", (noise, Image.radial_gradient("L").resize((width, height)), noise)).save(
    out, fmt, **({"progressive": True} if progressive else {}))
data = out.getvalue()
del noise, out
small = io.BytesIO()
Image.new("RGB", (64, 48)).save(small, fmt)
attachments._clean_image(small.getvalue())  # libraries loaded, first allocations made

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM := VmRSS
base = status("VmRSS:")
tracemalloc.start()
result = attachments._clean_image(data)
traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({"ok": result is not None, "rss": status("VmHWM:") - base, "traced": traced, "bytes": len(data)}))
"""


def _can_measure() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _can_measure(), reason="needs Linux /proc/self/clear_refs to reset the peak RSS")
@pytest.mark.parametrize(("fmt", "width", "height", "progressive"), [
    ("JPEG", 8660, 5773, False),  # MAX_JPEG_PIXELS: a 50 Mpx phone photo
    ("JPEG", 2999, 2000, False),  # the largest decoded at full size (MAX_DECODED_PIXELS)
    ("JPEG", 4000, 3000, True),  # MAX_PROGRESSIVE_JPEG_PIXELS
    ("PNG", 2449, 2449, False),  # MAX_DECODED_PIXELS, square: the largest shrunk image
    ("WEBP", 2000, 1500, False),  # MAX_WEBP_PIXELS
])
def test_the_largest_accepted_photo_costs_about_50_mb_at_most(fmt, width, height, progressive):
    run = subprocess.run([sys.executable, "-c", MEASURE, fmt, str(width), str(height), "1" if progressive else "0"],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    assert measured["ok"]
    mib = measured["rss"] / 2**20
    print(f"{fmt} {width}×{height}{' progressive' if progressive else ''}: peak RSS +{mib:.1f} MiB, "
          f"tracemalloc {measured['traced'] / 2**20:.1f} MiB, file {measured['bytes'] / 2**20:.1f} MiB")
    assert mib < 64, f"{fmt} {width}×{height}: {mib:.1f} MiB"


def test_the_decode_runs_outside_the_requests_transaction(app, db, demo):
    """prepare_before_writing ends the (read-only) transaction signing in opened, so the decode holds no lock;
    a pending change is never dropped (its transaction is kept)."""
    case = db.session.scalars(select(Case)).first()
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG")
    session = db.session()
    before = session.in_transaction() and session.get_transaction()
    prepared = attachments.prepare_before_writing([("a.jpg", out.getvalue())], images_only=True)
    assert [p.content_type for p in prepared()] == ["image/jpeg"]
    assert not before or session.get_transaction() is not before  # the old transaction ended
    case.summary = case.summary + "（改）"
    pending = session.get_transaction()
    attachments.prepare_before_writing([("a.jpg", out.getvalue())], images_only=True)
    assert session.get_transaction() is pending and case in session.dirty
    refuse = attachments.prepare_before_writing([("b.png", png_declaring(20000, 20000))], images_only=True)
    with pytest.raises(ValidationFailed):
        refuse()
