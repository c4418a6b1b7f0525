"""WeChat commands of grid workers, pushed through the fake's /_fake/push (real wechatpy crypto) to our app
served on a loopback port; replies decrypted with wechatpy as WeChat would."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.db import db as _db
from tests.notify.fake_support import decrypt_reply, push

pytestmark = pytest.mark.usefixtures("live")


def reply_of(app, result, platform="work") -> str:
    assert result["status"] == 200, result
    assert "<Encrypt>" in result["body"], result["body"]
    plain = decrypt_reply(app.config, result["body"], platform)
    return re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", plain, re.S).group(1)


def say(live, fake_wechat, text, sender="qs01.g1", platform="work"):
    app, base = live
    return reply_of(app, push(fake_wechat, base, platform=platform,
                              event={"type": "text", "from": sender, "content": text}), platform)


def _number(app, summary_part: str) -> str:
    from center.cases.models import Case

    with app.app_context():
        return _db.session.scalar(select(Case.number).where(Case.summary.contains(summary_part)))


def test_todo_lists_my_open_tasks_and_sends_a_card(live, fake_wechat):
    app, _ = live
    from notify.models import Notification

    answer = say(live, fake_wechat, "待办")
    assert answer.startswith("您有") and "件待办" in answer
    assert _number(app, "排水沟") in answer  # the 代办 case of 青石村第1网格
    assert "石材厂" not in answer            # a township case outside the grid is not a grid task
    with app.app_context():
        card = _db.session.scalar(select(Notification).where(Notification.event == "grid.todo"))
        assert card is not None and card.payload["url"] == "/m/"
    # Asking again within the minute sends no second card.
    say(live, fake_wechat, " 待办 ")
    with app.app_context():
        assert len(_db.session.scalars(select(Notification).where(Notification.event == "grid.todo")).all()) == 1


def test_the_todo_card_is_committed_by_the_route_and_not_if_the_handler_fails(live, fake_wechat, monkeypatch):
    """"待办" queues its card without committing: the callback route commits it after the reply is ready; a
    handler failing after the card was queued leaves no card (rolled back) and the sender still gets "success"."""
    from sqlalchemy import func

    from notify.models import Notification
    from notify.wechat import callback
    from village import commands

    app, base = live

    def cards() -> int:
        with app.app_context():
            return _db.session.scalar(select(func.count()).select_from(Notification)
                                      .where(Notification.event == "grid.todo"))

    def todo_then_fail(message, user):
        commands.text_handler(message, user)
        raise RuntimeError("failed after queuing the card")

    monkeypatch.setitem(callback.HANDLERS, ("work", "text"), todo_then_fail)
    failed = push(fake_wechat, base, platform="work", event={"type": "text", "from": "qs01.g1", "content": "待办"})
    assert failed["status"] == 200 and failed["body"] == "success"
    assert cards() == 0
    monkeypatch.setitem(callback.HANDLERS, ("work", "text"), commands.text_handler)
    assert "件待办" in say(live, fake_wechat, "待办")
    assert cards() == 1


def test_a_visible_case_number_answers_its_status(live, fake_wechat):
    app, _ = live
    number = _number(app, "排水沟")
    answer = say(live, fake_wechat, number.lower().replace("-", "－"))  # typed sloppily on a phone
    assert answer.startswith(number) and "状态：" in answer and "办理单位：" in answer


def test_a_case_outside_my_jurisdiction_answers_as_if_unknown(live, fake_wechat):
    app, _ = live
    foreign = _number(app, "加装电梯")  # 城关街道's case
    hidden = say(live, fake_wechat, foreign)
    unknown = say(live, fake_wechat, "SF-2026-999999")
    assert hidden == f"没有找到事项 {foreign}，或您无权查看。"
    assert unknown == "没有找到事项 SF-2026-999999，或您无权查看。"
    assert "电梯" not in hidden


def test_free_text_gets_help_and_an_unbound_sender_gets_nothing_but_how_to_bind(live, fake_wechat):
    assert "发送“待办”" in say(live, fake_wechat, "你好，请问怎么用")
    answer = say(live, fake_wechat, "待办", sender="stranger-userid")
    assert "尚未绑定" in answer and "SF-" not in answer
