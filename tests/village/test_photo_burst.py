"""One user cannot stall others (#10 item 11): a grid worker's burst of large photos, posted to our app served
on a loopback port, while another user reads a page and writes — every one of the other user's requests
succeeds. Photos are decoded after the request's transaction has ended (prepare_before_writing), so the slow
part never holds SQLite's write lock (BEGIN IMMEDIATE) or a PostgreSQL transaction.

Decided by state, not by a clock: the first photo's decoding is held (a gate in _clean_image) until the other
user's requests have all been answered. Had that decoding run inside a write transaction, the other user's
write would wait on the lock until the busy timeout and fail; then the gate opens, every request is awaited,
and the results are checked."""

from __future__ import annotations

import io
import threading

import requests
from PIL import Image
from sqlalchemy import func, select

from center.cases.attachments import operations as attachments
from center.cases.models import Attachment, Case, CaseEvent
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.village.test_mobile import filing

FILINGS = 3
PHOTOS = 3
ROUNDS = 3
#: A guard against a hung run only (a request or the gate never answering); nothing here is timed.
SAFETY_SECONDS = 600


def _photos() -> list[bytes]:
    """Large phone photos (12 Mpx, a few MB each, noisy so they do not compress away), all different."""
    photos = []
    for i in range(PHOTOS):
        noise = Image.effect_noise((1000, 750), 60 + 10 * i).resize((4000, 3000))
        out = io.BytesIO()
        Image.merge("RGB", (noise, Image.linear_gradient("L").resize((4000, 3000)), noise)).save(out, "JPEG",
                                                                                               quality=95)
        photos.append(out.getvalue())
    return photos


def _signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=SAFETY_SECONDS)
    answer = session.post(f"{base}/login", data={"csrf_token": csrf_from(page.text), "username": username,
                                                  "password": DEMO_PASSWORD},
                          allow_redirects=False, timeout=SAFETY_SECONDS)
    assert answer.status_code == 302, answer.text[:300]
    return session


def test_a_burst_of_large_photos_does_not_fail_another_users_requests(live, monkeypatch):
    app, base = live
    from core.db import db

    with app.app_context():
        case_number = db.session.scalars(select(Case.number).where(
            Case.summary == "反映镇中心小学周边交通安全隐患")).one()
        notes_before = db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.action == "note"))
        db.session.remove()

    real = attachments._clean_image
    decoding, release, gate = threading.Event(), threading.Event(), threading.Lock()

    def held_first(data: bytes):
        with gate:
            first = not decoding.is_set()
            decoding.set()
        if first:  # the burst's first photo: decoding until the other user has been answered
            assert release.wait(SAFETY_SECONDS), "the gate was never opened"
        return real(data)

    monkeypatch.setattr(attachments, "_clean_image", held_first)

    photos = _photos()
    worker = _signed_in(base, "qs01.g1")
    filing_token = csrf_from(worker.get(f"{base}/m/file", timeout=SAFETY_SECONDS).text)
    staff = _signed_in(base, "qs.staff")
    filings = [filing(name=f"赵{'一二三四五'[i]}", phone=f"1390101{i:04d}", repeat_of="none",
                      summary=f"第{i + 1}组鱼塘承包边界争议，双方各执一词，需现场勘查后调解")
               for i in range(FILINGS)]
    burst: dict[int, requests.Response | BaseException] = {}

    def post_filing(i: int) -> None:
        try:
            burst[i] = worker.post(f"{base}/m/file", data={**filings[i], "csrf_token": filing_token},
                                   files=[("photos", (f"现场{j}.jpg", p, "image/jpeg"))
                                          for j, p in enumerate(photos)],
                                   allow_redirects=False, timeout=SAFETY_SECONDS)
        except BaseException as exc:  # reported below
            burst[i] = exc

    threads = [threading.Thread(target=post_filing, args=(i,)) for i in range(FILINGS)]
    for t in threads:
        t.start()
    other: list[tuple[str, int]] = []
    try:
        assert decoding.wait(SAFETY_SECONDS), "the burst never reached the decoding"
        # The other user, while the first photo is still being decoded and the rest of the burst runs.
        for i in range(ROUNDS):
            page = staff.get(f"{base}/cases/{case_number}", timeout=SAFETY_SECONDS)
            other.append(("page", page.status_code))
            token = csrf_from(page.text) if page.status_code == 200 else ""  # a failed page is reported below
            wrote = staff.post(f"{base}/cases/{case_number}/notes", allow_redirects=False, timeout=SAFETY_SECONDS,
                               data={"csrf_token": token, "note": f"并发测试进展记录{i}"})
            other.append(("note", wrote.status_code))
            other.append(("desk", staff.get(f"{base}/township/", timeout=SAFETY_SECONDS).status_code))
    finally:
        release.set()
        for t in threads:
            t.join(SAFETY_SECONDS)
    assert not any(t.is_alive() for t in threads), "a filing never finished"

    # Every request has been answered; now the results.
    assert other == [("page", 200), ("note", 302), ("desk", 200)] * ROUNDS
    failed = {i: r if isinstance(r, BaseException) else (r.status_code, r.text[:300]) for i, r in burst.items()
              if isinstance(r, BaseException) or r.status_code != 302}
    assert not failed and len(burst) == FILINGS, failed
    with app.app_context():
        notes = db.session.scalars(select(CaseEvent.note).where(CaseEvent.action == "note")
                                   .order_by(CaseEvent.id)).all()
        assert len(notes) == notes_before + ROUNDS
        assert notes[-ROUNDS:] == [f"并发测试进展记录{i}" for i in range(ROUNDS)]
        filed = db.session.scalars(select(Case).where(Case.intake_key.in_([f["intake_key"] for f in filings]))).all()
        assert len(filed) == FILINGS
        counts = [db.session.scalar(select(func.count(Attachment.id)).where(Attachment.case_id == c.id))
                  for c in filed]
        assert counts == [PHOTOS] * FILINGS
        db.session.remove()
