"""Render a delivery's request once, when the delivery is created: retries send the same bytes.

Every rendered request carries the delivery id (WeCom: in the description; Official Account: in
client_msg_id), so WeCom's content-based duplicate check absorbs a resend of the SAME delivery but never
swallows a new message with the same text. Detail goes behind the link: since 2023-05-04 Official Account
templates drop `first`/`remark` and cut `thing` at 20 characters.
"""

from __future__ import annotations

import re
from datetime import datetime

from core.timefmt import SHANGHAI
from notify.models import Channel

THING_MAX = 20
ASCII_32 = re.compile(r"^[\x21-\x7e]{1,32}$")
HAN_PHRASE = re.compile(r"^[\u4e00-\u9fff]{1,5}$")


#: A run that must never be cut in half: a case number (SF-2026-000123), a delivery id (D42), a phone, a
#: date or time (2026-12-02, 10:30), a decimal (3.5), a code — letters and digits, joined by - _ / . : ：
CODE_RUN = re.compile(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+"
                      r"(?:[-_/.:：][0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+)*")
ELLIPSIS = "…"
#: Left off the end of a shortened text before the ellipsis (no "…" after a dangling comma or space).
_TRAILING = " \t\r\n，、；：,;:。.（(《“‘-—"


def _size(text: str, *, in_bytes: bool) -> int:
    return len(text.encode("utf-8")) if in_bytes else len(text)


def shorten(text: str | None, limit: int, *, in_bytes: bool = False) -> str:
    """``text`` if it fits in ``limit`` characters (UTF-8 bytes with ``in_bytes``), else its longest prefix that
    ends at a boundary, followed by "…", the whole still within ``limit``. A boundary is never inside a
    ``CODE_RUN``: a case number, phone, date or code is shown whole or not at all (the detail is behind the
    card's link). Features that shorten a text for a payload use this too."""
    text = (text or "").strip()
    if _size(text, in_bytes=in_bytes) <= limit:
        return text
    room = limit - _size(ELLIPSIS, in_bytes=in_bytes)
    if room <= 0:
        return ELLIPSIS if limit >= _size(ELLIPSIS, in_bytes=in_bytes) else ""
    # the longest prefix within ``room`` (in bytes: whole characters only)
    end = len(text.encode("utf-8")[:room].decode("utf-8", "ignore")) if in_bytes else room
    for run in CODE_RUN.finditer(text):  # the whole text: a run is known only with its end
        if run.start() >= end:
            break
        if end < run.end():  # the cut falls inside a run: cut before it instead
            end = run.start()
            break
    return text[:end].rstrip(_TRAILING) + ELLIPSIS


def _cut(text: str, limit: int) -> str:
    return shorten(text, limit)


def _cut_bytes(text: str, limit: int) -> str:
    return shorten(text, limit, in_bytes=True)


def link(payload: dict, delivery_id: int, base_url: str) -> str:
    path = payload.get("url") or "/"
    sep = "&" if "?" in path else "?"
    return f"{base_url.rstrip('/')}{path}{sep}n={delivery_id}"


def template_fields(payload: dict, delivery_id: int, now: datetime) -> dict:
    """Typed category-template fields, validated (and made valid) before sending."""
    number = payload.get("number") or f"D{delivery_id}"
    if not ASCII_32.match(number):
        number = f"D{delivery_id}"
    status = payload.get("status") or "待处理"
    if not HAN_PHRASE.match(status):
        status = "有更新"
    return {
        "thing1": {"value": _cut(payload.get("title", "新消息"), THING_MAX)},
        "character_string2": {"value": number},
        "phrase3": {"value": status},
        "time4": {"value": now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")},
    }


def render(channel: Channel, *, delivery_id: int, payload: dict, external_id: str | None, config,
           now: datetime) -> dict:
    title = payload.get("title") or "矛调通消息"
    body = payload.get("body") or ""
    url = link(payload, delivery_id, config["PUBLIC_BASE_URL"])
    if channel == Channel.wecom:
        suffix = f"\n消息编号 D{delivery_id}"  # never cut off: WeCom's duplicate check must see the id
        description = _cut_bytes(body, 500 - len(suffix.encode("utf-8"))) + suffix
        return {
            "touser": external_id,
            "msgtype": "textcard",
            "agentid": int(config["WECOM_AGENT_ID"]),
            "textcard": {"title": _cut_bytes(title, 120), "description": description, "url": url,
                         "btntxt": "详情"},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }
    if channel == Channel.mp_template:
        return {
            "touser": external_id,
            "template_id": config["MP_TEMPLATE_ID"],
            "url": url,
            "data": template_fields(payload, delivery_id, now),
            "client_msg_id": f"mdt-d{delivery_id}",
        }
    if channel == Channel.sms:
        return {"text": _cut(f"【矛调通】{title}。{body}", 120) + f" 详见 {url}", "dedupe_key": f"mdt-d{delivery_id}"}
    return {"text": f"{title} — {body} ({url})"}
