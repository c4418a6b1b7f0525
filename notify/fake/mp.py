"""Official Account (服务号) endpoints under /mp: tokens, template messages, OAuth (snsapi_base).

Check order of a template send: access token (41001/40001/42001) → JSON body and touser/template_id/data present
(47001) → template known (40037) → data against the template's typed fields (47001 missing, 47003 invalid) →
openid known (40003) → subscribed (43004) → client_msg_id seen for this openid within 10 minutes (answer the
first msgid, store nothing) → store and answer a new msgid.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from notify.fake import oauth
from notify.fake.common import mark_duplicate, mp_error, read_json, state, token_error
from notify.fake.fields import check_template_data

bp = Blueprint("fake_mp", __name__, url_prefix="/mp")


def _credentials_error(appid, secret, secret_errcode: int):
    mp = state().seed["mp"]
    if not appid:
        return mp_error(41002)
    if appid != mp["appid"]:
        return mp_error(40013)
    if not secret:
        return mp_error(41004)
    if secret != mp["secret"]:
        return mp_error(secret_errcode)
    return None


@bp.get("/cgi-bin/token")
def token():
    args = request.args
    fake = state()
    with fake.lock:
        if args.get("grant_type") != "client_credential":
            return mp_error(40002)
        # The real /cgi-bin/token answers 40001 for a wrong AppSecret ("AppSecret错误").
        problem = _credentials_error(args.get("appid"), args.get("secret"), 40001)
        if problem is not None:
            return problem
        issued = fake.issue_mp_token()
        return jsonify(access_token=issued, expires_in=fake.remaining(issued))


@bp.post("/cgi-bin/stable_token")
def stable_token():
    body = read_json()
    if body is None:
        return mp_error(47001)
    fake = state()
    with fake.lock:
        if body.get("grant_type") != "client_credential":
            return mp_error(40002)
        problem = _credentials_error(body.get("appid"), body.get("secret"), 40125)
        if problem is not None:
            return problem
        force = body.get("force_refresh") in (True, "true", 1, "1")
        issued = fake.issue_mp_stable_token(force)
        # expires_in is what is left of the token's life, as the platform answers.
        return jsonify(access_token=issued, expires_in=fake.remaining(issued))


@bp.post("/cgi-bin/message/template/send")
def template_send():
    fake = state()
    with fake.lock:
        problem = token_error("mp", request.args.get("access_token"))
        if problem is not None:
            return problem
        body = read_json()
        if body is None:
            return mp_error(47001, "hint: body is not a JSON object")
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not touser or not template_id or data is None:
            return mp_error(47001, "hint: touser, template_id and data are required")
        fields = fake.seed["mp"]["templates"].get(template_id)
        if fields is None:
            return mp_error(40037)
        violation = check_template_data(fields, data)
        if violation is not None:
            errcode, key, reason = violation
            return mp_error(errcode, f"data.{key}.value {reason}")
        user = fake.mp_users.get(touser)
        if user is None:
            return mp_error(40003)
        if not user["subscribed"]:
            return mp_error(43004)
        now = fake.now()
        client_msg_id = body.get("client_msg_id") or None
        if client_msg_id:
            key = (touser, str(client_msg_id))
            seen = fake.mp_dedup.get(key)
            if seen and now - seen[1] < fake.settings["FAKE_MP_DEDUP_SECONDS"]:
                mark_duplicate()
                return jsonify(errcode=0, errmsg="ok", msgid=seen[0])
        msgid = fake.next_mp_msgid()
        if client_msg_id:
            if len(fake.mp_dedup) > 50_000:  # benchmarks: forget keys whose window has passed
                window = fake.settings["FAKE_MP_DEDUP_SECONDS"]
                fake.mp_dedup = {k: v for k, v in fake.mp_dedup.items() if now - v[1] < window}
            fake.mp_dedup[key] = (msgid, now)
        fake.messages.append({
            "id": fake.next_id(), "platform": "mp", "touser": touser, "template_id": template_id,
            "data": data, "url": body.get("url"), "miniprogram": body.get("miniprogram"),
            "client_msg_id": client_msg_id, "msgid": msgid, "time": now, "receipt": None,
        })
        return jsonify(errcode=0, errmsg="ok", msgid=msgid)


@bp.get("/connect/oauth2/authorize")
def authorize():
    return oauth.mp_authorize()


@bp.get("/sns/oauth2/access_token")
def oauth_access_token():
    args = request.args
    fake = state()
    with fake.lock:
        if args.get("grant_type") != "authorization_code":
            return mp_error(40002)
        problem = _credentials_error(args.get("appid"), args.get("secret"), 40125)
        if problem is not None:
            return problem
        if not args.get("code"):
            return mp_error(41008)
        outcome, rec = fake.take_code(args.get("code"), "mp")
        if outcome == "used":
            return mp_error(40163)
        if outcome != "ok" or rec["appid"] != args.get("appid"):
            return mp_error(40029)
        access = fake.issue_oauth_token("mp")
        extra = {}
        if rec["openid"].startswith("snapshot_"):
            # A 朋友圈 snapshot-page visitor: WeChat hands out a virtual OpenID and flags it.
            extra["is_snapshotuser"] = 1
        return jsonify(access_token=access, expires_in=7200, refresh_token=fake.issue_oauth_token("mp"),
                       openid=rec["openid"], scope=rec["scope"], **extra)
