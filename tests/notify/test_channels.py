"""Channels and dispatcher driving wechatpy's real clients against the fake WeChat server on loopback."""

from contextlib import contextmanager

import pytest
from sqlalchemy import delete, select

from core.actor import Actor
from notify import dispatcher
from notify.bindings import bind
from notify.models import (
    Binding,
    BindingState,
    Channel,
    ChannelState,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    Preference,
    WeChatToken,
)
from notify.outbox import enqueue
from tests.conftest import settle_demo_outbox

SYSTEM = Actor.system("cli")
SEND_WORK = "/work/cgi-bin/message/send"
SEND_MP = "/mp/cgi-bin/message/template/send"


@pytest.fixture(autouse=True)
def clean_fake(fake_wechat, db):
    fake_wechat.reset()
    db.session.execute(delete(WeChatToken))  # every test starts without a cached token
    db.session.execute(delete(ChannelState))
    settle_demo_outbox(db.session)
    db.session.flush()
    yield


@contextmanager
def config(app, **values):
    old = {k: app.config[k] for k in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(old)


def _prefs(db, user, channels):
    db.session.merge(Preference(user_id=user.id, channels=channels, quiet_start="00:00", quiet_end="00:00",
                                muted_events=[]))
    db.session.flush()


def _send(db, user, key, channels=("wecom",), **payload):
    _prefs(db, user, list(channels))
    n = enqueue("test.event", user, {"title": "新交办事项", "body": "请于三日内办理", "url": "/m/", **payload}, key=key)
    db.session.commit()
    return n


def _delivery(db, n, index=0):
    db.session.expire_all()
    return db.session.get(Notification, n.id).deliveries[index]


def test_wecom_textcard_happy_path(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    n = _send(db, user, "wc-1")
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.sent and d.attempts == 1
    (msg,) = fake_wechat.messages(platform="work", touser="qs01.g1")
    assert msg["textcard"]["title"] == "新交办事项"
    assert f"D{d.id}" in msg["textcard"]["description"]  # the delivery id makes every message distinct
    assert msg["textcard"]["url"].endswith(f"/m/?n={d.id}")
    (sent,) = fake_wechat.requests(SEND_WORK)
    assert sent["json"]["enable_duplicate_check"] == 1


def test_mp_template_happy_path_and_receipt(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "mp", "odemo-resident-01", actor=SYSTEM)
    n = _send(db, user, "mp-1", channels=("mp_template",), number="SF-2026-000123", status="待办理",
              title="这是一个非常长的标题，超过了二十个字符的限制，需要截断")
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.sent and d.provider_msgid
    (msg,) = fake_wechat.messages(platform="mp", touser="odemo-resident-01")
    assert msg["client_msg_id"] == f"mdt-d{d.id}"
    assert len(msg["data"]["thing1"]["value"]) <= 20
    assert msg["data"]["character_string2"]["value"] == "SF-2026-000123"
    from notify.operations import mark_receipt

    mark_receipt(d.provider_msgid, success=True)
    db.session.commit()
    assert _delivery(db, n).status == DeliveryStatus.delivered


def test_token_revoked_one_refresh_one_retry(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    _send(db, user, "warm-up")
    dispatcher.drain("w")  # fetches and caches a token
    fake_wechat.control("POST", "tokens/revoke", json={"platform": "work"})
    before_fetch = len(fake_wechat.requests("/work/cgi-bin/gettoken"))
    before_send = len(fake_wechat.requests(SEND_WORK))
    n = _send(db, user, "wc-revoked", title="第二条")
    dispatcher.drain("w")
    assert _delivery(db, n).status == DeliveryStatus.sent
    assert len(fake_wechat.requests("/work/cgi-bin/gettoken")) - before_fetch == 1
    assert len(fake_wechat.requests(SEND_WORK)) - before_send == 2


def test_consecutive_token_errors_dead_letter_with_bounded_fetches(db, demo, fake_wechat, app):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    fake_wechat.fault(SEND_WORK, count=50, errcode=40014)
    with config(app, NOTIFY_BACKOFF_BASE_SECONDS=0, NOTIFY_BACKOFF_MAX_SECONDS=0, NOTIFY_MAX_ATTEMPTS=5):
        n = _send(db, user, "wc-40014")
        for _ in range(10):
            dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.dead and d.attempts == 5
    fetches = len(fake_wechat.requests("/work/cgi-bin/gettoken"))
    assert fetches <= 2 * d.attempts
    assert len(fake_wechat.requests(SEND_WORK)) == 2 * d.attempts  # one retry per attempt, no more


def test_quota_defers_without_spending_an_attempt(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "mp", "odemo-resident-01", actor=SYSTEM)
    fake_wechat.fault(SEND_MP, count=1, errcode=45009)
    n = _send(db, user, "mp-quota", channels=("mp_template",))
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.queued and d.attempts == 0
    assert d.next_attempt_at > d.updated_at  # deferred (to the next day for the Official Account)


def test_unsubscribed_recipient_falls_back_to_next_channel(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "mp", "odemo-unsubscribed-01", actor=SYSTEM)
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    n = _send(db, user, "fallback-1", channels=("mp_template", "wecom"))
    dispatcher.drain("w")
    first, second = _delivery(db, n, 0), _delivery(db, n, 1)
    assert first.channel == Channel.mp_template and first.status == DeliveryStatus.failed
    assert first.last_errcode == "43004"
    assert second.channel == Channel.wecom and second.status == DeliveryStatus.sent
    binding = db.session.scalar(select(Binding).where(Binding.user_id == user.id, Binding.platform == "mp"))
    assert binding.state == BindingState.stale


def test_payload_error_dead_letters_at_once(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    fake_wechat.fault(SEND_WORK, count=1, errcode=47003)
    n = _send(db, user, "wc-47003")
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.dead and d.attempts == 1
    assert len(fake_wechat.requests(SEND_WORK)) == 1


def test_transient_http_error_backs_off(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    fake_wechat.fault(SEND_WORK, count=1, http_status=503)
    n = _send(db, user, "wc-503")
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.queued and d.attempts == 1 and d.next_attempt_at > d.updated_at


def test_config_error_pauses_channel_and_alerts_admins(db, demo, fake_wechat, client):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    admin = demo.user("admin")
    bind(admin, "phone", "13900000000", actor=SYSTEM)
    _prefs(db, admin, ["wecom", "sms"])
    fake_wechat.fault(SEND_WORK, count=1, errcode=60020)
    n = _send(db, user, "wc-60020")
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.queued and d.attempts == 0  # waits for the channel, not lost
    state = db.session.get(ChannelState, "wecom")
    assert state.paused_until is not None
    alert = db.session.scalar(select(Notification).where(Notification.user_id == admin.id,
                                                         Notification.event == "notify.channel_paused"))
    assert alert is not None and alert.deliveries[0].channel == Channel.sms  # on a channel that works
    from tests.conftest import login

    login(client, "admin")
    page = client.get("/admin/org", follow_redirects=True).get_data(as_text=True)
    assert "企业微信通道已暂停发送" in page


def test_quiet_hours_hold_normal_but_not_urgent(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    db.session.merge(Preference(user_id=user.id, channels=["wecom"], quiet_start="00:00", quiet_end="23:59",
                                muted_events=[]))
    normal = enqueue("test.event", user, {"title": "普通"}, key="quiet-normal")
    urgent = enqueue("test.event", user, {"title": "紧急"}, key="quiet-urgent", priority="urgent")
    db.session.commit()
    dispatcher.drain("w")
    assert _delivery(db, normal).status == DeliveryStatus.queued
    assert _delivery(db, urgent).status == DeliveryStatus.sent


def test_muted_event_is_kept_not_sent(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    db.session.merge(Preference(user_id=user.id, channels=["wecom"], quiet_start="00:00", quiet_end="00:00",
                                muted_events=["test.muted"]))
    n = enqueue("test.muted", user, {"title": "静音"}, key="muted-1")
    db.session.commit()
    assert n.status == NotificationStatus.muted and not n.deliveries


def test_wecom_invaliduser_marks_binding_stale(db, demo, fake_wechat):
    user = demo.user("qs01.g1")
    bind(user, "wecom", "no-such-user", actor=SYSTEM)
    bind(user, "phone", "13700000000", actor=SYSTEM)
    n = _send(db, user, "wc-invalid", channels=("wecom", "sms"))
    dispatcher.drain("w")
    assert _delivery(db, n, 0).status == DeliveryStatus.failed
    assert _delivery(db, n, 1).channel == Channel.sms and _delivery(db, n, 1).status == DeliveryStatus.delivered


def test_stable_token_shared_through_the_database(db, app, fake_wechat):
    from notify.wechat.clients import MpClient

    first, second = MpClient(app.config), MpClient(app.config)  # as two processes would
    token_a = first.access_token
    token_b = second.access_token
    assert token_a == token_b
    assert len(fake_wechat.requests("/mp/cgi-bin/stable_token")) == 1


def test_outbound_to_unconfigured_host_fails_loudly(app):
    import requests

    from notify.wechat.transport import build_session

    with pytest.raises(requests.ConnectionError, match="not configured"):
        build_session(app.config).get("https://example.com/", timeout=1)


def test_admin_requeues_a_dead_letter_and_it_goes_out(db, demo, fake_wechat, client):
    from tests.conftest import csrf_from, login

    user = demo.user("qs01.g1")
    bind(user, "wecom", "qs01.g1", actor=SYSTEM)
    fake_wechat.fault(SEND_WORK, count=1, errcode=47003)
    n = _send(db, user, "wc-requeue")
    dispatcher.drain("w")
    d = _delivery(db, n)
    assert d.status == DeliveryStatus.dead
    login(client, "admin")
    page = client.get(f"/admin/notify/notifications/{n.id}")
    assert page.status_code == 200 and "死信" in page.get_data(as_text=True)
    response = client.post(f"/admin/notify/deliveries/{d.id}/requeue",
                           data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302
    dispatcher.drain("w")
    assert _delivery(db, n).status == DeliveryStatus.sent
    assert len(fake_wechat.messages(platform="work", touser="qs01.g1")) == 1


def test_notify_admin_is_scoped_to_the_admins_district(db, demo, client, app):
    from tests.conftest import login

    staff = app.test_client()
    login(staff, "qs.staff")  # no notify.manage
    assert staff.get("/admin/notify/").status_code == 403
    login(client, "admin")
    assert client.get("/admin/notify/notifications/999999999").status_code == 404
    assert client.get("/admin/notify/channels").status_code == 200
    assert client.get("/admin/notify/bindings").status_code == 200


def test_user_sets_own_channel_order_quiet_hours_and_mutes(db, demo, signed_in):
    from tests.conftest import csrf_from

    client = signed_in("qs01.g1")
    page = client.get("/account/notifications/")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    bad = client.post("/account/notifications/", data={"csrf_token": token, "first": "pigeon", "quiet_start": "25:00",
                                                       "quiet_end": "07:30"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "请从列表中选择" in text and "请按 21:30 的格式填写时间" in text
    assert db.session.get(Preference, demo.user("qs01.g1").id) is None  # nothing changed
    ok = client.post("/account/notifications/", data={"csrf_token": token, "first": "sms", "second": "wecom",
                                                      "quiet_start": "22:00", "quiet_end": "06:30",
                                                      "muted": "demo.welcome"})
    assert ok.status_code == 302
    db.session.expire_all()
    pref = db.session.get(Preference, demo.user("qs01.g1").id)
    assert pref.channels == ["sms", "wecom"] and pref.quiet_start == "22:00" and pref.muted_events == ["demo.welcome"]
