"""WeCom (企业微信 / 政务微信) endpoints under /work: gettoken, application messages, OAuth.

Check order of message/send: access token (41001/40014/42001) → JSON body (47001) → agentid (41011 missing,
40056 not ours) → msgtype textcard or text (40008) → content: empty title/description/url/content 44004; title
> 128 bytes, description > 512 bytes, url > 2048 bytes, text content > 2048 bytes 45002 (the real platform
truncates instead; the fake refuses so our renderer is kept honest) → recipients: unknown userids are listed in
``invaliduser`` (and parties/tags, which the fake does not model, in ``invalidparty``/``invalidtag``); none
valid → 81013 → per member: with ``enable_duplicate_check=1`` identical content already stored for that member
within ``duplicate_check_interval`` (default 1800 s, at most 4 h) is accepted and not stored again; above 30
messages per member per minute the message is accepted and stored with ``dropped: true`` (WeCom drops it
silently).
"""

from __future__ import annotations

import json
import secrets

from flask import Blueprint, jsonify, request

from notify.fake import oauth
from notify.fake.common import mark_duplicate, read_json, state, token_error, work_error

bp = Blueprint("fake_work", __name__, url_prefix="/work")

LIMITS = {"title": 128, "description": 512, "url": 2048}


@bp.get("/cgi-bin/gettoken")
def gettoken():
    args = request.args
    fake = state()
    with fake.lock:
        work = fake.seed["work"]
        corpid, secret = args.get("corpid"), args.get("corpsecret")
        if not corpid:
            return work_error(41002)
        if corpid != work["corpid"]:
            return work_error(40013)
        if not secret:
            return work_error(41004)
        if secret != work["corpsecret"]:
            return work_error(40001)
        issued = fake.issue_work_token(corpid, secret)
        return jsonify(errcode=0, errmsg="ok", access_token=issued, expires_in=fake.remaining(issued))


def _split(value) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in str(value).split("|") if part.strip()]


def _content_problem(body: dict):
    msgtype = body.get("msgtype")
    if msgtype == "textcard":
        card = body.get("textcard")
        if not isinstance(card, dict):
            return work_error(44004, "textcard missing")
        for key, limit in LIMITS.items():
            value = card.get(key)
            if not value or not str(value).strip():
                return work_error(44004, f"textcard.{key} is empty")
            if len(str(value).encode("utf-8")) > limit:
                return work_error(45002, f"textcard.{key} exceeds {limit} bytes")
        return None
    if msgtype == "text":
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not content:
            return work_error(44004, "text.content is empty")
        if len(str(content).encode("utf-8")) > 2048:
            return work_error(45002, "text.content exceeds 2048 bytes")
        return None
    return work_error(40008)


def _content_of(body: dict) -> dict:
    msgtype = body["msgtype"]
    content = dict(body[msgtype])
    if msgtype == "textcard" and "btntxt" in content:
        content["btntxt"] = str(content["btntxt"])[:4]  # the platform cuts the button text to 4 characters
    return content


@bp.post("/cgi-bin/message/send")
def message_send():
    fake = state()
    with fake.lock:
        problem = token_error("work", request.args.get("access_token"))
        if problem is not None:
            return problem
        body = read_json()
        if body is None:
            return work_error(47001)
        work = fake.seed["work"]
        agentid = body.get("agentid")
        if agentid in (None, ""):
            return work_error(41011)
        try:
            if int(agentid) != work["agentid"]:
                return work_error(40056)
        except (TypeError, ValueError):
            return work_error(40056)
        problem = _content_problem(body)
        if problem is not None:
            return problem
        users = _split(body.get("touser"))
        if users == ["@all"]:
            users = list(fake.work_users)
        valid = [u for u in dict.fromkeys(users) if u in fake.work_users]
        invalid = [u for u in users if u not in fake.work_users]
        parties, tags = _split(body.get("toparty")), _split(body.get("totag"))
        extra = {"invaliduser": "|".join(invalid)}
        if parties:
            extra["invalidparty"] = "|".join(parties)
        if tags:
            extra["invalidtag"] = "|".join(tags)
        if not valid:
            return work_error(81013, **extra)

        now = fake.now()
        msgid = secrets.token_urlsafe(33)
        content = _content_of(body)
        content_key = json.dumps({"msgtype": body["msgtype"], "content": content}, sort_keys=True,
                                  ensure_ascii=False)
        dedup = str(body.get("enable_duplicate_check", 0)) in ("1", "true", "True")
        try:
            interval = int(body.get("duplicate_check_interval") or 1800)
        except (TypeError, ValueError):
            interval = 1800
        interval = max(0, min(interval, 4 * 3600))
        rate = fake.settings["FAKE_WORK_RATE_PER_MINUTE"]
        skipped = []
        for userid in valid:
            mine = fake.work_recent.setdefault(userid, [])
            mine[:] = [m for m in mine if now - m["time"] < 4 * 3600]
            if dedup and any(m["content_key"] == content_key and now - m["time"] < interval
                             and not m["dropped"] for m in mine):
                skipped.append(userid)
                continue
            recent = sum(1 for m in mine if now - m["time"] < 60)
            stored = {
                "id": fake.next_id(), "platform": "work", "touser": userid, "agentid": work["agentid"],
                "msgtype": body["msgtype"], body["msgtype"]: content, "content_key": content_key,
                "enable_duplicate_check": dedup, "msgid": msgid, "time": now, "dropped": recent >= rate,
            }
            fake.messages.append(stored)
            mine.append(stored)
        if skipped:
            mark_duplicate()
        return jsonify(errcode=0, errmsg="ok", msgid=msgid, **extra)


@bp.get("/connect/oauth2/authorize")
def authorize():
    return oauth.work_authorize()


def _userinfo(legacy: bool):
    args = request.args
    fake = state()
    with fake.lock:
        problem = token_error("work", args.get("access_token"))
        if problem is not None:
            return problem
        if not args.get("code"):
            return work_error(41008)
        outcome, rec = fake.take_code(args.get("code"), "work")
        if outcome != "ok" or rec["corpid"] != fake.seed["work"]["corpid"]:
            return work_error(40029)
        if rec.get("userid"):
            key = "UserId" if legacy else "userid"
            return jsonify(errcode=0, errmsg="ok", **{key: rec["userid"]})
        key = "OpenId" if legacy else "openid"
        return jsonify(errcode=0, errmsg="ok", **{key: rec["openid"]})


@bp.get("/cgi-bin/auth/getuserinfo")
def getuserinfo():
    return _userinfo(legacy=False)


@bp.get("/cgi-bin/user/getuserinfo")
def getuserinfo_legacy():
    """The older endpoint wechatpy's ``client.oauth.get_user_info`` calls (capitalised keys)."""
    return _userinfo(legacy=True)
