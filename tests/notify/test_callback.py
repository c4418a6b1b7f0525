"""The callback gateway, driven by the fake's /_fake/push (real wechatpy crypto) against our app served on a
loopback port, plus a fuzz test through the test client."""

import random

import pytest
from sqlalchemy import select

from core.actor import Actor
from core.db import db as _db
from notify.models import Binding, BindingState, CallbackReceipt, Delivery, DeliveryStatus, Preference
from notify.wechat import callback
from tests.notify.fake_support import decrypt_reply, push

SYSTEM = Actor.system("cli")


def _bind(app, username, platform, external_id, channels=None):
    from sqlalchemy import select as sel

    from core.accounts.models import User
    from core.db import write_intent
    from notify.bindings import bind

    with app.app_context(), write_intent():
        user = _db.session.scalar(sel(User).where(User.username == username))
        bind(user, platform, external_id, actor=SYSTEM)
        if channels:
            _db.session.merge(Preference(user_id=user.id, channels=channels, quiet_start="00:00",
                                         quiet_end="00:00", muted_events=[]))
        _db.session.commit()
        return user.id


def _binding_state(app, external_id):
    with app.app_context():
        return _db.session.scalar(select(Binding.state).where(Binding.external_index == external_id))


def test_subscribe_and_unsubscribe_change_binding_state(live, fake_wechat):
    app, base = live
    _bind(app, "qs01.g1", "mp", "odemo-resident-02")
    result = push(fake_wechat, base, event={"type": "unsubscribe", "from": "odemo-resident-02"})
    assert result["status"] == 200 and result["body"] == "success"
    assert _binding_state(app, "odemo-resident-02") == BindingState.stale
    push(fake_wechat, base, event={"type": "subscribe", "from": "odemo-resident-02"})
    assert _binding_state(app, "odemo-resident-02") == BindingState.verified


def test_template_receipt_marks_delivered_or_falls_back(live, fake_wechat):
    app, base = live
    user_id = _bind(app, "qs01.g1", "mp", "odemo-resident-03", channels=["mp_template", "wecom"])
    _bind(app, "qs01.g1", "wecom", "qs01.g1")
    from core.accounts.models import User
    from core.db import write_intent
    from notify import dispatcher
    from notify.outbox import enqueue

    with app.app_context():
        with write_intent():
            user = _db.session.get(User, user_id)
            ok = enqueue("test.event", user, {"title": "收到回执"}, key="receipt-ok")
            _db.session.commit()
            ok_id = ok.id
        dispatcher.drain("w")
    result = push(fake_wechat, base, event={"type": "TEMPLATESENDJOBFINISH", "status": "success"})
    assert result["status"] == 200
    with app.app_context():
        d = _db.session.scalar(select(Delivery).where(Delivery.notification_id == ok_id))
        assert d.status == DeliveryStatus.delivered
        with write_intent():
            failed = enqueue("test.event", _db.session.get(User, user_id), {"title": "被拒收"}, key="receipt-failed")
            _db.session.commit()
            failed_id = failed.id
        dispatcher.drain("w")
    push(fake_wechat, base, event={"type": "TEMPLATESENDJOBFINISH", "status": "failed:user block"})
    with app.app_context():
        rows = _db.session.scalars(select(Delivery).where(Delivery.notification_id == failed_id)
                                   .order_by(Delivery.id)).all()
        assert rows[0].status == DeliveryStatus.failed
        assert rows[1].channel.value == "wecom"  # fell back to the next channel


@pytest.mark.parametrize("tamper,expected", [
    ("signature", 403), ("timestamp_old", 403), ("appid", 403), ("garbage_ciphertext", 403), ("doctype", 400),
])
def test_tampered_callbacks_are_refused(live, fake_wechat, tamper, expected):
    app, base = live
    _bind(app, "qs01.g1", "mp", "odemo-resident-04")
    result = push(fake_wechat, base, event={"type": "unsubscribe", "from": "odemo-resident-04"}, tamper=tamper)
    assert result["status"] == expected
    assert _binding_state(app, "odemo-resident-04") == BindingState.verified  # nothing happened


def test_exact_replay_and_msgid_replay_are_no_ops(live, fake_wechat):
    app, base = live
    calls = []
    callback.register_handler("work", "text", lambda message, user: calls.append(message["Content"]) or None)
    try:
        result = push(fake_wechat, base, platform="work",
                      event={"type": "text", "from": "qs01.g1", "content": "你好", "msgid": 42}, replay=True)
        assert result["status"] == 200 and result["replay"]["status"] == 200
        again = push(fake_wechat, base, platform="work",
                     event={"type": "text", "from": "qs01.g1", "content": "你好", "msgid": 42})
        assert again["status"] == 200
        assert calls == ["你好"]
    finally:
        callback.HANDLERS.pop(("work", "text"), None)


def test_handler_reply_is_encrypted_for_the_sender(live, fake_wechat):
    app, base = live
    callback.register_handler("work", "text", lambda message, user: f"收到：{message['Content']}")
    try:
        result = push(fake_wechat, base, platform="work", event={"type": "text", "from": "qs01.g1", "content": "待办"})
    finally:
        callback.HANDLERS.pop(("work", "text"), None)
    assert result["status"] == 200 and "<Encrypt>" in result["body"]
    assert "收到：待办" in decrypt_reply(app.config, result["body"], "work")


@pytest.mark.parametrize("content", ["进展\x85已到现场", "待办\x9b", "\x7f"])
def test_control_characters_in_a_message_never_reach_a_handler(live, fake_wechat, content):
    """C1 controls (and DEL) are well-formed XML, so the parser lets them through: the request edge's rule
    (core.security.BAD_TEXT) refuses them here too, and the sender reads why in Chinese."""
    app, base = live
    calls = []
    callback.register_handler("work", "text", lambda message, user: calls.append(message["Content"]) or "收到")
    try:
        result = push(fake_wechat, base, platform="work", event={"type": "text", "from": "qs01.g1", "content": content})
        clean = push(fake_wechat, base, platform="work", event={"type": "text", "from": "qs01.g1", "content": "待办"})
    finally:
        callback.HANDLERS.pop(("work", "text"), None)
    assert result["status"] == 200 and "控制字符" in decrypt_reply(app.config, result["body"], "work")
    assert clean["status"] == 200 and calls == ["待办"]


def test_the_route_commits_a_handlers_writes_once_and_rolls_them_back_on_error(live, fake_wechat, monkeypatch):
    """A handler only writes to the request's session: the callback route commits after the handler returned
    its reply, and rolls everything back when the handler raises (still answering "success", never a 5xx)."""
    from notify.bindings import find_by_identity, mark_stale
    from notify.models import Platform

    app, base = live
    _bind(app, "qs01.g1", "mp", "odemo-resident-05")

    def handler_that(outcome):
        def handler(message, user):
            mark_stale(find_by_identity(Platform.mp, "odemo-resident-05"), "changed by a handler")
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return handler

    def say(text):
        return push(fake_wechat, base, platform="work", event={"type": "text", "from": "qs01.g1", "content": text})

    monkeypatch.setitem(callback.HANDLERS, ("work", "text"), handler_that(RuntimeError("after writing")))
    failed = say("改一下")
    assert failed["status"] == 200 and failed["body"] == "success"
    assert _binding_state(app, "odemo-resident-05") == BindingState.verified  # rolled back
    monkeypatch.setitem(callback.HANDLERS, ("work", "text"), handler_that("已记录"))
    done = say("再改一下")
    assert done["status"] == 200 and "已记录" in decrypt_reply(app.config, done["body"], "work")
    assert _binding_state(app, "odemo-resident-05") == BindingState.stale  # committed by the route


def test_oversized_body_refused(client):
    response = client.post("/wechat/callback/mp?msg_signature=a&timestamp=1&nonce=1", data=b"<xml>" + b"a" * (1 << 20))
    assert response.status_code == 413


def test_fuzzed_bodies_never_5xx(client, app, db):
    from notify.fake.push import build_request
    from notify.fake.state import default_seed

    seed = default_seed(app.config)
    rng = random.Random(20261123)
    alphabet = "<>/![]CDATA&;\"'xml中文事项 \n\t\x00abc123"
    statuses = set()
    # Thousands of bodies, half of them signed and encrypted correctly around random inner XML; senders are
    # sometimes a bound grid worker, so village's command handlers run on random text too.
    words = ["待办", "SF-2026-000001", "sf－2026－000002", "ＳＦ-2026-0000", "帮助", "\x00", "]]>"]
    for i in range(2400):
        platform = rng.choice(["mp", "work"])
        if i % 2 == 0:  # correctly signed and encrypted with the test key, random inner XML
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
            if i % 4 == 0:
                from xml.sax.saxutils import escape

                tag = rng.choice(["text", "event", "image", "voice", "unknown"])
                sender = rng.choice(["qs01.g1", "qs.staff", f"u{i}"])
                if rng.random() < 0.3:
                    text = rng.choice(words) + text[:rng.randint(0, 5)]
                inner = (f"<xml><ToUserName>t</ToUserName><FromUserName>{sender}</FromUserName>"
                         f"<MsgType>{tag}</MsgType><Event>{escape(text[:20])}</Event>"
                         f"<Content>{escape(text)}</Content><MsgId>{i}</MsgId></xml>")
            else:
                inner = text
            query, body = build_request(platform, seed, inner, ())
        else:
            query = {k: "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(0, 40)))
                     for k in ("msg_signature", "timestamp", "nonce")}
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 500)))
        response = client.post(f"/wechat/callback/{platform}", query_string=query, data=body)
        statuses.add(response.status_code)
        assert response.status_code < 500, (i, response.status_code)
    assert 200 in statuses and 400 in statuses  # both correctly signed and garbage bodies were exercised
    assert db.session.scalar(select(CallbackReceipt.id).limit(1)) is not None
