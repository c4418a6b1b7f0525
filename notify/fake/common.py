"""Helpers shared by the fake's platform endpoints: state access, error bodies in each platform's style,
JSON body parsing as the platforms do it (any Content-Type), access-token checks."""

from __future__ import annotations

import json
import secrets

from flask import current_app, g, jsonify, request

#: errmsg texts of the codes the fake answers (the platforms append a request id / a help link).
MP_ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    47001: "data format error",
    47003: "argument invalid!",
    -1: "system error",
}
WORK_ERRMSG = {
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40056: "invalid agentid",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41008: "missing code",
    41011: "missing agentid",
    42001: "access_token expired",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    47001: "data format error",
    60020: "not allow to access from your ip",
    81013: "user & party & tag all invalid",
    -1: "system error",
}


def state():
    return current_app.extensions["fake_wechat"]


def rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def mp_error(errcode: int, detail: str = ""):
    text = MP_ERRMSG.get(errcode, "error")
    if detail:
        text = f"{text} {detail}"
    return jsonify(errcode=errcode, errmsg=f"{text} rid: {rid()}")


def work_error(errcode: int, detail: str = "", **extra):
    text = WORK_ERRMSG.get(errcode, "error")
    if detail:
        text = f"{text}, {detail}"
    return jsonify(errcode=errcode,
                   errmsg=f"{text}, more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}",
                   **extra)


def error_for(platform: str, errcode: int, detail: str = ""):
    return mp_error(errcode, detail) if platform == "mp" else work_error(errcode, detail)


def read_json():
    """The request body as a JSON object, or None (the platforms ignore the Content-Type)."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def token_error(platform: str, token: str | None):
    """The platform's error response for an unusable access token, or None. Call under the state lock."""
    problem = state().check_token(token, platform)
    if problem is None:
        return None
    if problem == "missing":
        return error_for(platform, 41001)
    if problem == "expired":
        return error_for(platform, 42001)
    return error_for(platform, 40001 if platform == "mp" else 40014)


def mark_duplicate() -> None:
    g.fake_duplicate = True
