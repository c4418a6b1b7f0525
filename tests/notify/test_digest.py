"""A user's daily digest hour: ordinary messages wait for it and arrive as one digest; urgent ones never wait.
The time arithmetic is a table in Asia/Shanghai; the hold and the merge go through the real outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.timefmt import SHANGHAI
from notify.coalesce import coalesce_bursts
from notify.models import Delivery, Notification, Preference
from notify.outbox import enqueue
from notify.policy import digest_time
from tests.conftest import csrf_from


def _sh(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(("now", "hour", "expected"), [
    ("2026-11-24 10:00", 18, "2026-11-24 18:00"),
    ("2026-11-24 18:00", 18, "2026-11-24 18:00"),
    ("2026-11-24 18:01", 18, "2026-11-25 18:00"),
    ("2026-11-24 23:30", 0, "2026-11-25 00:00"),
    ("2026-12-31 20:00", 8, "2027-01-01 08:00"),
])
def test_digest_time_table(now, hour, expected):
    assert digest_time(_sh(now), hour).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == expected


def _prefer(db, user, hour):
    db.session.merge(Preference(user_id=user.id, channels=["sms"], quiet_start="00:00", quiet_end="00:00",
                                muted_events=[], digest_hour=hour))
    db.session.flush()


def test_ordinary_messages_wait_for_the_digest_hour_and_merge_urgent_ones_do_not(db, demo):
    from tests.conftest import settle_demo_outbox

    settle_demo_outbox(db.session)
    user = demo.user("qs01.g1")
    _prefer(db, user, 18)
    for i in range(5):
        enqueue("test.event", user, {"title": f"待办{i}", "url": "/m/"}, key=f"digest-hold-{i}")
    urgent = enqueue("test.event", user, {"title": "召集"}, key="digest-urgent", priority="urgent")
    db.session.flush()
    due = {n.idempotency_key: d.next_attempt_at for d, n in db.session.execute(
        select(Delivery, Notification).join(Notification).where(Notification.user_id == user.id))}
    held = [at for key, at in due.items() if key.startswith("digest-hold-")]
    assert len(held) == 5 and all(at.astimezone(SHANGHAI).hour == 18 and at.minute == 0 for at in held)
    assert due["digest-urgent"] < min(held) and urgent.is_urgent
    assert coalesce_bursts(min(held)) == 5  # at 18:00 the five become one digest
    [digest] = db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                             Notification.is_digest.is_(True))).all()
    assert "5 条" in digest.payload["title"]


def test_the_digest_hour_is_set_on_the_preferences_page(db, demo, login_as, client):
    login_as("qs01.g1")
    page = client.get("/account/notifications/").get_data(as_text=True)
    answer = client.post("/account/notifications/", data={
        "csrf_token": csrf_from(page), "first": "wecom", "quiet_start": "21:30", "quiet_end": "07:30",
        "digest_hour": "17"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(Preference, demo.user("qs01.g1").id).digest_hour == 17
