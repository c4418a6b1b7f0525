"""Outbox and dispatcher on the log and SMS channels (no WeChat involved)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.actor import Actor
from notify import dispatcher
from notify.bindings import bind
from notify.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    Preference,
    SmsMessage,
)
from notify.outbox import enqueue
from notify.policy import Outcome, classify, quiet_until

SYSTEM = Actor.system("cli")


@pytest.fixture(autouse=True)
def quiet_outbox(db):
    from tests.conftest import settle_demo_outbox

    settle_demo_outbox(db.session)


def _no_quiet(db, user, channels=("sms",)):
    # The demo binds every user to WeCom; these tests use the SMS stub and the log fallback instead.
    db.session.add(Preference(user_id=user.id, channels=list(channels), quiet_start="00:00",
                              quiet_end="00:00", muted_events=[]))
    db.session.flush()


def test_enqueue_is_idempotent_and_renders_once(db, demo):
    user = demo.user("qs01.g1")
    _no_quiet(db, user)
    first = enqueue("test.event", user, {"title": "标题", "body": "正文", "url": "/m/"}, key="k-1")
    second = enqueue("test.event", user, {"title": "别的", "body": "别的", "url": "/m/"}, key="k-1")
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.idempotency_key == "k-1")) == 1
    (delivery,) = first.deliveries
    assert delivery.channel == Channel.log  # no usable channel (no phone bound): the log fallback
    assert f"n={delivery.id}" in delivery.request["text"]


def test_rolled_back_transaction_leaves_no_notification(db, demo):
    user = demo.user("qs01.g1")
    with pytest.raises(RuntimeError), db.session.begin_nested():
        enqueue("test.event", user, {"title": "x"}, key="rollback-1")
        raise RuntimeError("business failure")
    assert db.session.scalar(select(Notification).where(Notification.idempotency_key == "rollback-1")) is None


def test_dispatch_sends_sms_once_per_key(db, demo, app):
    user = demo.user("qs01.g1")
    _no_quiet(db, user)
    bind(user, "phone", "13800138000", actor=SYSTEM)
    n = enqueue("test.event", user, {"title": "回访提醒", "body": "请回访", "url": "/m/"}, key="sms-1")
    db.session.commit()
    assert n.deliveries[0].channel == Channel.sms
    assert dispatcher.drain("w1") >= 1
    d = db.session.get(Delivery, n.deliveries[0].id)
    assert d.status == DeliveryStatus.delivered
    stored = db.session.scalars(select(SmsMessage).where(SmsMessage.dedupe_key == f"mdt-d{d.id}")).all()
    assert len(stored) == 1
    assert "13800138000" not in stored[0].phone_enc  # encrypted at rest


@pytest.mark.parametrize("code,outcome", [
    (0, Outcome.ok), (None, Outcome.transient), (-1, Outcome.transient), (40001, Outcome.token),
    (42001, Outcome.token), (40014, Outcome.token), (45009, Outcome.quota), (40003, Outcome.recipient),
    (43004, Outcome.recipient), (43101, Outcome.recipient), (81013, Outcome.recipient),
    (47001, Outcome.payload), (47003, Outcome.payload), (40164, Outcome.config), (60020, Outcome.config),
    (99999, Outcome.transient),
])
def test_classification_table(code, outcome):
    assert classify(code) == outcome


@pytest.mark.parametrize("local,expected_end", [
    ("2026-11-23 22:00", "2026-11-24 07:30"), ("2026-11-24 03:00", "2026-11-24 07:30"),
    ("2026-11-24 07:30", None), ("2026-11-24 12:00", None), ("2026-11-24 21:29", None),
    ("2026-11-24 21:30", "2026-11-25 07:30"),
])
def test_quiet_hours_table(local, expected_end):
    from core.timefmt import SHANGHAI

    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(UTC)
    end = quiet_until(now, "21:30", "07:30")
    if expected_end is None:
        assert end is None
    else:
        assert end.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == expected_end


def test_expired_notification_is_not_sent(db, demo):
    user = demo.user("qs01.g1")
    _no_quiet(db, user)
    past = datetime.now(UTC) - timedelta(minutes=1)
    n = enqueue("test.event", user, {"title": "过期"}, key="exp-1", expires_at=past)
    db.session.commit()
    dispatcher.drain("w1")
    db.session.refresh(n)
    assert n.status == NotificationStatus.expired
    assert n.deliveries[0].status == DeliveryStatus.expired


def test_burst_becomes_one_digest(db, demo, app):
    user = demo.user("qs01.g1")
    _no_quiet(db, user)
    for i in range(6):
        enqueue("test.event", user, {"title": f"待办{i}", "url": "/m/"}, key=f"burst-{i}")
    db.session.commit()
    dispatcher.drain("w1")
    digests = db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                            Notification.is_digest.is_(True))).all()
    assert len(digests) == 1
    assert "6 条" in digests[0].payload["title"]
    merged = db.session.scalars(select(Notification).where(Notification.coalesced_into_id == digests[0].id)).all()
    assert len(merged) == 6 and all(m.status == NotificationStatus.coalesced for m in merged)
