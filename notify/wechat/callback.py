"""Callback gateway for the Official Account and the WeCom app (encrypted mode only).

Order of checks (DESIGN.md §5): body cap → no DOCTYPE → our own constant-time msg_signature check →
decrypt inside try → AppID/CorpID (checked by the decrypt) → timestamp within 300 s → replay of
(timestamp, nonce, signature) and of MsgId → handler. Answers fast and never with a 5xx: WeChat retries
three times when it gets no answer in 5 s, and a crash here must not turn into a retry storm.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

from defusedxml import ElementTree
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError

from core.auth.decorators import public
from core.db import db, own_transaction
from core.extensions import csrf
from core.security import BAD_TEXT_MESSAGE, has_bad_text
from notify.models import CallbackReceipt

logger = logging.getLogger(__name__)
bp = Blueprint("wechat_callback", __name__, url_prefix="/wechat/callback")

MAX_BODY = 64 * 1024
WINDOW_SECONDS = 300
#: (platform, message type) → handler(message, user_or_None) -> reply text or None. Features fill it.
HANDLERS: dict[tuple[str, str], Callable] = {}


def register_handler(platform: str, msg_type: str, handler: Callable) -> None:
    HANDLERS[(platform, msg_type)] = handler


def _settings(platform: str) -> tuple[str, str, str]:
    cfg = current_app.config
    if platform == "mp":
        return cfg["MP_TOKEN"], cfg["MP_AES_KEY"], cfg["MP_APP_ID"]
    return cfg["WECOM_TOKEN"], cfg["WECOM_AES_KEY"], cfg["WECOM_CORP_ID"]


def _signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def _prp(platform: str, key: str):
    if platform == "mp":
        from wechatpy.crypto import PrpCrypto
    else:
        from wechatpy.work.crypto import PrpCrypto
    import base64

    return PrpCrypto(base64.b64decode(key + "="))


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _seen(key: str) -> bool:
    """Record a replay key; True if it was seen before."""
    try:
        with own_transaction() as s:
            s.add(CallbackReceipt(replay_key=key[:200]))
    except IntegrityError:
        return True
    return False


def _read_body() -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Rejected(413, "body too large")
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Rejected(413, "body too large")
    return raw


def _parse_xml(raw: bytes | str) -> dict[str, str]:
    data = raw.encode() if isinstance(raw, str) else raw
    lowered = data[:4096].lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise Rejected(400, "DOCTYPE refused")
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # noqa: BLE001 - any malformed XML is the sender's problem
        raise Rejected(400, "bad XML") from exc
    return {child.tag: (child.text or "") for child in root}


def _verify_and_decrypt(platform: str, raw: bytes) -> tuple[dict[str, str], str, str]:
    token, aes_key, app_id = _settings(platform)
    outer = _parse_xml(raw)
    encrypt = outer.get("Encrypt", "")
    args = request.args
    msg_signature, timestamp, nonce = args.get("msg_signature", ""), args.get("timestamp", ""), args.get("nonce", "")
    if not (encrypt and msg_signature and timestamp and nonce):
        raise Rejected(400, "missing fields (plaintext mode is not accepted)")
    if not hmac.compare_digest(_signature(token, timestamp, nonce, encrypt), msg_signature):
        raise Rejected(403, "bad signature")
    try:
        plaintext = _prp(platform, aes_key).decrypt(encrypt, app_id)
    except Exception as exc:  # noqa: BLE001 - garbage ciphertext raises assorted errors; wrong AppID too
        raise Rejected(403, f"decrypt failed: {type(exc).__name__}") from exc
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise Rejected(400, "bad timestamp") from exc
    if abs(time.time() - ts) > WINDOW_SECONDS:
        raise Rejected(403, "stale timestamp")
    message = _parse_xml(plaintext)
    return message, timestamp, nonce


def _dispatch(platform: str, message: dict[str, str]) -> str | None:
    from notify.wechat.events import handle_event

    msg_type = message.get("MsgType", "")
    if msg_type == "event":
        return handle_event(platform, message)
    handler = HANDLERS.get((platform, msg_type))
    if handler is None:
        return None
    from notify.wechat.events import user_for

    return handler(message, user_for(platform, message.get("FromUserName", "")))


def _reply(platform: str, message: dict[str, str], text: str, nonce: str) -> Response:
    from wechatpy.crypto import WeChatCrypto as MpCrypto
    from wechatpy.work.crypto import WeChatCrypto as WorkCrypto

    token, aes_key, app_id = _settings(platform)
    now = str(int(time.time()))
    inner = ("<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{frm}]]></FromUserName>"
             "<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
             "<Content><![CDATA[{content}]]></Content></xml>").format(
        to=message.get("FromUserName", ""), frm=message.get("ToUserName", ""), now=now,
        content=text.replace("]]>", "]]&gt;"))
    crypto = (MpCrypto if platform == "mp" else WorkCrypto)(token, aes_key, app_id)
    return Response(crypto.encrypt_message(inner, nonce, now), mimetype="application/xml")


def _handle(platform: str) -> Response:
    started = time.monotonic()
    try:
        raw = _read_body()
        message, timestamp, nonce = _verify_and_decrypt(platform, raw)
        if _seen(f"{platform}:sig:{timestamp}:{nonce}:{request.args.get('msg_signature', '')}"):
            return Response("success", mimetype="text/plain")
        msg_id = message.get("MsgId") or message.get("MsgID")
        if msg_id and message.get("MsgType") != "event" and _seen(f"{platform}:msg:{msg_id}"):
            return Response("success", mimetype="text/plain")
        if any(has_bad_text(value) for value in message.values()):
            # the same edge as forms and JSON (core.security): a C1 control character is well-formed XML but
            # never reaches a handler or the database; the sender is told why in his chat
            logger.warning("callback %s %s refused: control characters in the message", platform,
                           message.get("MsgType"))
            if message.get("MsgType") == "text":
                return _reply(platform, message, f"消息{BAD_TEXT_MESSAGE}", nonce)
            return Response("success", mimetype="text/plain")
        reply = _dispatch(platform, message)
        # The route owns the transaction (DESIGN.md §3.2): what the handler wrote — a binding's state, a
        # receipt, a queued card — commits once, here, before the reply leaves; any error rolls it back below.
        db.session.commit()
        logger.info("callback %s %s handled in %.0f ms", platform, message.get("MsgType"),
                    (time.monotonic() - started) * 1000)
        if reply:
            return _reply(platform, message, reply, nonce)
        return Response("success", mimetype="text/plain")
    except Rejected as exc:
        logger.warning("callback %s rejected: %s", platform, exc.reason)
        return Response(exc.reason, status=exc.status, mimetype="text/plain")
    except Exception:  # never a 5xx to WeChat
        logger.exception("callback %s failed", platform)
        db.session.rollback()
        return Response("success", mimetype="text/plain")


def _verify_url(platform: str) -> Response:
    """WeChat's URL check when the callback is configured (echostr)."""
    token, aes_key, app_id = _settings(platform)
    args = request.args
    timestamp, nonce, echostr = args.get("timestamp", ""), args.get("nonce", ""), args.get("echostr", "")
    try:
        if platform == "mp" and "msg_signature" not in args:
            expected = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324
            if hmac.compare_digest(expected, args.get("signature", "")):
                return Response(echostr, mimetype="text/plain")
            return Response("bad signature", status=403)
        if not hmac.compare_digest(_signature(token, timestamp, nonce, echostr), args.get("msg_signature", "")):
            return Response("bad signature", status=403)
        return Response(_prp(platform, aes_key).decrypt(echostr, app_id), mimetype="text/plain")
    except Exception:  # noqa: BLE001
        return Response("bad request", status=400)


@bp.route("/<any(mp, work):platform>", methods=["GET", "POST"])
@public
@csrf.exempt
def callback(platform: str):
    if request.method == "GET":
        return _verify_url(platform)
    return _handle(platform)
