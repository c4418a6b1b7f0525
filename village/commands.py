"""WeChat commands for grid workers (and any bound staff), registered into notify's callback registry:

- "待办" → a short text reply listing my open tasks, plus a WeCom text card / template message through the
  outbox that opens the mobile desk already signed in;
- a case number → its status, if I may see it; otherwise the same answer as for an unknown number (a user
  outside the jurisdiction learns nothing, not even that the number exists);
- anything else → help.
Replies must be quick (WeChat retries after 5 s): a few indexed queries, no outbound calls.
"""

from __future__ import annotations

import logging
import unicodedata

from center.cases.intake.numbering import NUMBER_RE
from center.cases.listing.queues import DONE
from center.cases.models import Case
from center.cases.presenters import next_deadlines
from center.cases.queries import cases_query
from core.actor import Actor
from core.db import db
from core.timefmt import SHANGHAI
from notify.render import shorten
from village.todo import my_tasks

logger = logging.getLogger(__name__)

TODO_WORDS = {"待办", "我的待办", "代办", "daiban", "todo", "任务"}
HELP = ("矛调通可以这样用：\n发送“待办”查看我的待办事项；\n发送事项编号（如 SF-2026-000123）查询办理进度；\n"
        "在工作台登记代办事项、记录回访。")
UNBOUND = "您的微信尚未绑定矛调通账号。请联系村（社区）干部生成绑定码，扫码并输入本人密码完成绑定。"
MAX_LINES = 5


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().replace("—", "-").replace("－", "-").upper()


def _days(deadline) -> str:
    if deadline is None:
        return ""
    if deadline.days_left < 0:
        return f"（超期{-deadline.days_left}天）"
    return f"（剩{deadline.days_left}天）"


def _todo(user, actor: Actor) -> str:
    tasks = my_tasks(actor, limit=20)
    if not tasks:
        return "您目前没有待办事项。"
    lines = [f"{t.case.number} {shorten(t.case.summary, 14)}{_days(t.deadline)}"
             + ("【待回访】" if t.reason == "follow_up" else "") for t in tasks[:MAX_LINES]]
    more = f"\n……另有{len(tasks) - MAX_LINES}件" if len(tasks) > MAX_LINES else ""
    _send_card(user, tasks)
    return f"您有{len(tasks)}件待办：\n" + "\n".join(lines) + more + "\n点开消息卡片进入工作台处理。"


def _send_card(user, tasks) -> None:
    """A text card that opens the mobile desk. Keyed per user and minute: asking twice sends one card.
    Queued in the callback's transaction: the route commits it with everything else, or nothing."""
    from datetime import datetime

    from notify.outbox import enqueue

    minute = datetime.now(SHANGHAI).strftime("%Y%m%d%H%M")
    overdue = sum(1 for t in tasks if t.deadline is not None and t.deadline.days_left < 0)
    body = f"共{len(tasks)}件" + (f"，其中超期{overdue}件" if overdue else "")
    enqueue("grid.todo", user, {"title": "我的待办", "body": body, "url": "/m/"}, key=f"todo:{user.id}:{minute}",
            priority="urgent")  # asked for just now: not held for quiet hours


def _status(actor: Actor, number: str) -> str:
    case = db.session.scalar(cases_query(actor).where(Case.number == number))
    if case is None:
        return f"没有找到事项 {number}，或您无权查看。"
    deadline = next_deadlines([case]).get(case.id)
    lines = [f"{case.number} {shorten(case.summary, 30)}", f"状态：{case.status_label}", f"办理单位：{case.handling_unit.name}"]
    if deadline is not None and case.status not in DONE:
        lines.append(f"下一期限：{deadline.label} {deadline.due_on:%m月%d日}{_days(deadline)}")
    return "\n".join(lines)


def text_handler(message: dict[str, str], user) -> str:
    if user is None:
        return UNBOUND
    actor = Actor.for_user(user, channel="wechat")
    text = _normalise(message.get("Content", ""))
    if text.lower() in TODO_WORDS or text in TODO_WORDS:
        return _todo(user, actor)
    match = NUMBER_RE.fullmatch(text)
    if match:
        return _status(actor, text)
    return HELP


def init_app(app) -> None:
    from notify.wechat.callback import register_handler

    register_handler("work", "text", text_handler)
    register_handler("mp", "text", text_handler)
