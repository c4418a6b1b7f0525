"""Callbacks as WeChat sends them in safe mode (安全模式): build the encrypted request and POST it to our URL.

Official Account: ``POST url?signature=S&timestamp=T&nonce=N&openid=O&encrypt_type=aes&msg_signature=M`` with
body ``<xml><ToUserName>gh_…</ToUserName><Encrypt>…</Encrypt></xml>``. WeCom: ``POST
url?msg_signature=M&timestamp=T&nonce=N`` with body ``<xml><ToUserName>corpid</ToUserName><AgentID>…</AgentID>
<Encrypt>…</Encrypt></xml>``. ``Encrypt`` is made with wechatpy's ``WeChatCrypto.encrypt_message`` (mp) /
``wechatpy.work.crypto.WeChatCrypto`` (work) from the seeded token, EncodingAESKey and AppID/CorpID; ``signature``
is sha1(sort(token, timestamp, nonce)), ``msg_signature`` sha1(sort(token, timestamp, nonce, Encrypt)).
Timestamps use the real clock (our callback compares with its own clock), not the fake's shifted one.

Tampering (``tamper``, one name or a list): ``signature`` (msg_signature altered), ``timestamp_old`` (an hour
old, correctly signed), ``appid`` (encrypted for another AppID/CorpID), ``garbage_ciphertext`` (random bytes
as Encrypt, correctly signed), ``doctype`` (a DOCTYPE with an entity before the envelope, correctly signed).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time

EVENT_TYPES_WITHOUT_MSGTYPE = {"text", "image", "voice", "location", "link"}
TAMPERS = {"signature", "timestamp_old", "appid", "garbage_ciphertext", "doctype"}


class PushError(ValueError):
    pass


def _cdata(value) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"<{name}>{value}</{name}>"
    return f"<{name}>{_cdata(value)}</{name}>"


def build_plaintext(platform: str, seed: dict, event: dict, *, messages=()) -> tuple[str, dict]:
    """The inner XML of a callback built from an ``event`` spec, and facts about it (from, msgid).

    ``event``: ``{"type": "subscribe" | "unsubscribe" | "TEMPLATESENDJOBFINISH" | "text" | "click" | …,
    "from": openid/userid, "content": text, "msgid": id, "status": "success" | "failed:user block" | …,
    "event_key": key, "create_time": epoch, "extra": {Element: value}}``. For TEMPLATESENDJOBFINISH without
    ``from`` the recipient of the stored message ``msgid`` (default: the last template message) is used.
    """
    if not isinstance(event, dict) or not event.get("type"):
        raise PushError('event needs a "type"')
    kind = str(event["type"])
    part = seed[platform]
    to = event.get("to") or (part["original_id"] if platform == "mp" else part["corpid"])
    sender = event.get("from")
    msgid = event.get("msgid")
    if kind.upper() == "TEMPLATESENDJOBFINISH":
        kind = "TEMPLATESENDJOBFINISH"
        sent = [m for m in messages if m["platform"] == "mp"]
        if msgid is not None:
            sent = [m for m in sent if str(m["msgid"]) == str(msgid)]
        if sent:
            msgid = sent[-1]["msgid"]
            sender = sender or sent[-1]["touser"]
        if msgid is None or not sender:
            raise PushError("TEMPLATESENDJOBFINISH needs a stored template message (or msgid and from)")
    if not sender:
        raise PushError('event needs "from" (an openid or a userid)')
    created = int(event.get("create_time") or time.time())
    items = [("ToUserName", to), ("FromUserName", sender), ("CreateTime", created)]
    if kind in EVENT_TYPES_WITHOUT_MSGTYPE:
        items.append(("MsgType", kind))
        if kind == "text":
            items.append(("Content", event.get("content", "")))
        msgid = int(msgid) if msgid is not None else secrets.randbelow(9 * 10**18) + 10**18
        items.append(("MsgId", msgid))
    else:
        items += [("MsgType", "event"), ("Event", kind)]
        if kind == "TEMPLATESENDJOBFINISH":
            items += [("MsgID", int(msgid)), ("Status", event.get("status", "success"))]
        elif event.get("event_key") is not None:
            items.append(("EventKey", event["event_key"]))
    if platform == "work":
        items.append(("AgentID", int(event.get("agentid") or part["agentid"])))
    for name, value in (event.get("extra") or {}).items():
        items.append((str(name), value))
    xml = "<xml>" + "".join(_element(n, v) for n, v in items) + "</xml>"
    return xml, {"type": kind, "from": sender, "msgid": msgid}


def _sha1(*parts: str) -> str:
    joined = "".join(sorted(str(p) for p in parts)).encode("utf-8")
    return hashlib.sha1(joined).hexdigest()  # noqa: S324 - WeChat's callback signature is SHA-1


def build_request(platform: str, seed: dict, plaintext: str, tamper=()) -> tuple[dict, bytes]:
    """(query params, body bytes) of the callback POST carrying ``plaintext``, encrypted as WeChat does."""
    tamper = {tamper} if isinstance(tamper, str) else set(tamper or ())
    unknown = tamper - TAMPERS
    if unknown:
        raise PushError(f"unknown tamper {sorted(unknown)}; known: {sorted(TAMPERS)}")
    part = seed[platform]
    own_id = part["appid"] if platform == "mp" else part["corpid"]
    used_id = own_id
    if "appid" in tamper:
        used_id = ("wx" if platform == "mp" else "ww") + "0000000000badid"
    if platform == "mp":
        from wechatpy.crypto import WeChatCrypto
    else:
        from wechatpy.work.crypto import WeChatCrypto
    crypto = WeChatCrypto(part["token"], part["aes_key"], used_id)
    timestamp = str(int(time.time()) - (3600 if "timestamp_old" in tamper else 0))
    nonce = str(secrets.randbelow(9 * 10**9) + 10**9)
    envelope = crypto.encrypt_message(plaintext, nonce, timestamp)
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", envelope).group(1)
    if "garbage_ciphertext" in tamper:
        size = 16 * (2 + secrets.randbelow(6)) + secrets.choice((0, 5))  # block-aligned or not
        encrypt = base64.b64encode(secrets.token_bytes(size)).decode()
    msg_signature = _sha1(part["token"], timestamp, nonce, encrypt)
    if "signature" in tamper:
        msg_signature = _sha1("not-the-token", timestamp, nonce, encrypt)
    if platform == "mp":
        openid = re.search(r"<FromUserName><!\[CDATA\[(.*?)\]\]></FromUserName>", plaintext)
        query = {"signature": _sha1(part["token"], timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": openid.group(1) if openid else "", "encrypt_type": "aes",
                 "msg_signature": msg_signature}
        to = _cdata(part["original_id"]) if "doctype" not in tamper else "&fake;"
        body = f"<xml><ToUserName>{to}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
    else:
        query = {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce}
        to = _cdata(part["corpid"]) if "doctype" not in tamper else "&fake;"
        body = (f"<xml><ToUserName>{to}</ToUserName><AgentID>{_cdata(part['agentid'])}</AgentID>"
                f"<Encrypt>{_cdata(encrypt)}</Encrypt></xml>")
    if "doctype" in tamper:
        entity = part["original_id"] if platform == "mp" else part["corpid"]
        body = f'<?xml version="1.0"?>\n<!DOCTYPE xml [<!ENTITY fake "{entity}">]>\n{body}'
    return query, body.encode("utf-8")


def deliver(url: str, query: dict, body: bytes, timeout: float, *, replay: bool = False) -> dict:
    """POST the callback (twice with ``replay``) and report status, body and elapsed seconds."""
    import requests

    def once():
        started = time.monotonic()
        try:
            res = requests.post(url, params=query, data=body, timeout=timeout,
                                headers={"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"})
        except requests.RequestException as exc:
            return {"status": None, "body": "", "error": f"{type(exc).__name__}: {exc}",
                    "elapsed": round(time.monotonic() - started, 4)}
        return {"status": res.status_code, "body": res.text, "elapsed": round(time.monotonic() - started, 4)}

    first = once()
    if replay:
        first["replay"] = once()
    return first
