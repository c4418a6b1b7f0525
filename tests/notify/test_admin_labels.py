"""The notification admin pages speak Chinese: statuses, channels, message types and platform errors carry
labels, and a delivery that went out never shows its "0 ok" as an error (issue #10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from core.db import utcnow
from notify.models import ChannelState, Delivery, DeliveryStatus, Notification, NotificationStatus
from notify.outbox import enqueue
from notify.views import delivery_error, event_label, reason_label
from tests.conftest import login, settle_demo_outbox


@pytest.fixture()
def admin(db, client):
    settle_demo_outbox(db.session)
    db.session.execute(delete(ChannelState))
    db.session.flush()
    login(client, "admin")
    return client


def _delivery(db, user, key, *, event="case.agent_filed", status, errcode=None, error=None,
              n_status=NotificationStatus.pending) -> tuple[Notification, Delivery]:
    n = enqueue(event, user, {"title": "网格员代办新事项", "body": "青石村第1网格网格员代办：排水沟堵塞",
                              "url": "/cases/SF-2026-000001"}, key=key)
    db.session.flush()
    d = n.deliveries[0] if n.deliveries else None
    if d is None:
        from notify.models import Channel

        d = Delivery(notification=n, channel=Channel.wecom)
        db.session.add(d)
    d.status, d.last_errcode, d.last_error, d.attempts = status, errcode, error, 1
    n.status = n_status
    db.session.flush()
    return n, d


def _cells(html: str, marker: str) -> str:
    """The table row of the page holding ``marker``."""
    start = html.rindex("<tr", 0, html.index(marker))
    return html[start:html.index("</tr>", start)]


def test_a_sent_delivery_shows_no_error_and_a_refused_one_shows_what_it_means(db, demo, admin):
    user = demo.user("qs01.g1")
    n_ok, ok = _delivery(db, user, "labels-ok", status=DeliveryStatus.sent, errcode="0", error="ok",
                         n_status=NotificationStatus.sent)
    n_bad, bad = _delivery(db, user, "labels-bad", status=DeliveryStatus.failed, errcode="43004",
                           error="require subscribe")
    n_dead, dead = _delivery(db, user, "labels-dead", status=DeliveryStatus.dead, errcode=None,
                             error="timeout after 10 s")
    html = admin.get("/admin/notify/").get_data(as_text=True)
    sent_row = _cells(html, f">D{ok.id}<")
    assert "已发送" in sent_row and "ok" not in sent_row and "delivery-error" not in sent_row
    refused_row = _cells(html, f">D{bad.id}<")
    assert "接收人未关注公众号" in refused_row and "错误码 43004" in refused_row and "已转其他通道" in refused_row
    dead_row = _cells(html, f">D{dead.id}<")
    assert "网络或平台故障" in dead_row and "死信" in dead_row
    # raw codes never stand alone in the status or channel cells
    for row in (sent_row, refused_row, dead_row):
        assert "企业微信" in row or "公众号" in row or "短信" in row or "日志" in row
        assert ">sent<" not in row and ">failed<" not in row and ">wecom<" not in row

    page = admin.get(f"/admin/notify/notifications/{n_ok.id}").get_data(as_text=True)
    assert "网格员代办新事项" in page and "已发送" in page
    assert "case.agent_filed" not in page.replace('title="case.agent_filed"', "")  # only as a tooltip
    assert ">sent<" not in page and " ok" not in page and "delivery-error" not in page
    page = admin.get(f"/admin/notify/notifications/{n_bad.id}").get_data(as_text=True)
    assert "待发送" in page and "接收人未关注公众号" in page


def test_a_paused_channel_and_a_stale_binding_give_their_reason_in_chinese(db, demo, admin):
    from core.actor import Actor
    from notify.bindings import bind, mark_stale

    db.session.add(ChannelState(channel="wecom", paused_until=utcnow() + timedelta(hours=1),
                                reason="errcode 60020: not allow to access from your ip"))
    user = demo.user("qs01.g1")
    binding = bind(user, "mp", "o_label_test", actor=Actor.system("cli"))
    mark_stale(binding, "errcode 43004")
    db.session.flush()
    channels = admin.get("/admin/notify/channels").get_data(as_text=True)
    assert "不可信的访问 IP" in channels and "暂停至" in channels
    bindings = admin.get("/admin/notify/bindings").get_data(as_text=True)
    assert "接收人未关注公众号" in bindings


@pytest.mark.parametrize(("event", "label"), [
    ("case.agent_filed", "网格员代办新事项"), ("case.supervision", "督办"), ("grid.hand_down", "网格员消息"),
    ("case.something_new", "事项消息"), ("unknown", "其他消息"),
])
def test_every_event_has_a_chinese_label(event, label):
    assert event_label(event) == label


def test_error_presenter():
    d = Delivery(status=DeliveryStatus.sent, last_errcode="0", last_error="ok")
    assert delivery_error(d) is None
    d = Delivery(status=DeliveryStatus.queued, last_errcode=None, last_error=None)
    assert delivery_error(d) is None
    d = Delivery(status=DeliveryStatus.queued, last_errcode="45009", last_error="reach max api daily quota limit")
    assert delivery_error(d)["label"].startswith("超过接口调用次数限额")
    d = Delivery(status=DeliveryStatus.dead, last_errcode="99999", last_error="strange")
    assert delivery_error(d) == {"label": "平台返回错误（错误码 99999）", "detail": "错误码 99999 strange"}
    assert reason_label("errcode 40164: invalid ip") == "调用 IP 不在白名单（请检查通道配置）"
    assert reason_label("管理员手动暂停") == "管理员手动暂停" and reason_label(None) == ""
