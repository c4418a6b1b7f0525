"""Control API of the fake under /_fake (JSON in, JSON out; never logged in the request log).

GET  /_fake/                 this list
GET  /_fake/messages         stored messages; filters platform, touser, after (id), include_dropped=1
GET  /_fake/requests         the request log; filters path (exact, or prefix ending in *), platform, after (id)
GET  /_fake/faults           queued faults with their remaining counts
POST /_fake/faults           {"path", "errcode"[, "errmsg"] | "http_status" | "delay" | "drop": true,
                              "when": "before"|"after", "count": N (default 1; -1 = until reset)}
                             or {"faults": [...]}; "when": "after" lets the platform process the call first
                             (message stored) and then delays or drops the answer
DELETE /_fake/faults         clear faults
POST /_fake/reset            clear messages, requests, faults, tokens, codes, clock; {"all": true} also
                             restores the default seed
GET/POST /_fake/seed         read / change the seed ({"mp": {...}, "work": {...}}, each key given replaces)
POST /_fake/tokens/revoke    {"platform": "mp"|"work" (default both), "expire": false}: revoke (40001/40014)
                             or expire (42001) every access token issued so far
GET/POST /_fake/clock        {"advance": seconds} moves the fake's clock forward (tokens, codes, windows)
POST /_fake/push             deliver a callback to our URL, see notify/fake/push.py
"""

from __future__ import annotations

import copy

from flask import Blueprint, jsonify, request

from notify.fake.common import state
from notify.fake.push import PushError, build_plaintext, build_request, deliver
from notify.fake.state import SeedError

bp = Blueprint("fake_control", __name__, url_prefix="/_fake")

FAULT_KEYS = {"path", "errcode", "errmsg", "http_status", "delay", "drop", "when", "count"}


def _bad(message: str):
    response = jsonify(error=message)
    response.status_code = 400
    return response


def _body() -> dict:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/")
def index():
    return jsonify(help=__doc__)


def _public(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "content_key"}


@bp.get("/messages")
def messages():
    args = request.args
    fake = state()
    with fake.lock:
        items = list(fake.messages)
    if args.get("platform"):
        items = [m for m in items if m["platform"] == args["platform"]]
    if args.get("touser"):
        items = [m for m in items if m["touser"] == args["touser"]]
    if args.get("after"):
        items = [m for m in items if m["id"] > int(args["after"])]
    if args.get("include_dropped") not in ("1", "true"):
        items = [m for m in items if not m.get("dropped")]
    return jsonify(messages=[_public(m) for m in items], count=len(items))


@bp.get("/requests")
def requests_log():
    args = request.args
    fake = state()
    with fake.lock:
        items = list(fake.requests)
    path = args.get("path")
    if path:
        if path.endswith("*"):
            items = [r for r in items if r["path"].startswith(path[:-1])]
        else:
            items = [r for r in items if r["path"] == path]
    if args.get("platform"):
        items = [r for r in items if r["platform"] == args["platform"]]
    if args.get("after"):
        items = [r for r in items if r["id"] > int(args["after"])]
    return jsonify(requests=items, count=len(items))


def _check_fault(spec) -> tuple[dict | None, str | None]:
    if not isinstance(spec, dict):
        return None, "a fault must be an object"
    unknown = set(spec) - FAULT_KEYS
    if unknown:
        return None, f"unknown fault keys {sorted(unknown)}"
    path = spec.get("path")
    if not isinstance(path, str) or not path.startswith(("/mp/", "/work/")):
        return None, 'fault needs "path" under /mp/ or /work/ (a trailing * matches a prefix)'
    if not any(spec.get(k) not in (None, False) for k in ("errcode", "http_status", "delay", "drop")):
        return None, 'fault needs one of "errcode", "http_status", "delay", "drop"'
    if spec.get("when", "before") not in ("before", "after"):
        return None, '"when" is "before" or "after"'
    if spec.get("when") == "after" and (spec.get("errcode") is not None or spec.get("http_status")):
        return None, 'errcode and http_status faults answer instead of the platform: use "when": "before"'
    try:
        fault = {"path": path, "errcode": None if spec.get("errcode") is None else int(spec["errcode"]),
                 "errmsg": spec.get("errmsg"), "http_status": spec.get("http_status") and int(spec["http_status"]),
                 "delay": float(spec.get("delay") or 0), "drop": bool(spec.get("drop")),
                 "when": spec.get("when", "before"), "count": int(spec.get("count", 1))}
    except (TypeError, ValueError):
        return None, "errcode, http_status and count are integers, delay a number"
    if fault["count"] == 0 or fault["count"] < -1:
        return None, "count is a positive number, or -1 for until reset"
    return fault, None


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    fake = state()
    if request.method == "GET":
        with fake.lock:
            return jsonify(faults=copy.deepcopy(fake.faults))
    if request.method == "DELETE":
        with fake.lock:
            fake.faults.clear()
        return jsonify(ok=True)
    body = _body()
    specs = body["faults"] if isinstance(body.get("faults"), list) else [body]
    checked = []
    for spec in specs:
        fault, problem = _check_fault(spec)
        if problem:
            return _bad(problem)
        checked.append(fault)
    with fake.lock:
        fake.faults.extend(checked)
        return jsonify(ok=True, faults=copy.deepcopy(fake.faults))


@bp.post("/reset")
def reset():
    state().reset(all_=bool(_body().get("all")))
    return jsonify(ok=True)


@bp.route("/seed", methods=["GET", "POST"])
def seed():
    fake = state()
    if request.method == "GET":
        with fake.lock:
            return jsonify(copy.deepcopy(fake.seed))
    try:
        result = fake.apply_seed(_body())
    except SeedError as exc:
        return _bad(str(exc))
    return jsonify(copy.deepcopy(result))


@bp.post("/tokens/revoke")
def revoke():
    body = _body()
    platform = body.get("platform")
    if platform not in (None, "mp", "work"):
        return _bad('platform is "mp" or "work"')
    fake = state()
    with fake.lock:
        count = fake.revoke_tokens(platform, expire=bool(body.get("expire")))
    return jsonify(ok=True, count=count)


@bp.route("/clock", methods=["GET", "POST"])
def clock():
    fake = state()
    if request.method == "POST":
        try:
            advance = float(_body().get("advance", 0))
        except (TypeError, ValueError):
            return _bad("advance is a number of seconds")
        if advance < 0:
            return _bad("the clock only moves forward")
        with fake.lock:
            fake.clock_offset += advance
    with fake.lock:
        return jsonify(offset=fake.clock_offset, now=fake.now())


def _apply_event(fake, platform: str, facts: dict, event: dict) -> None:
    """What the platform itself records when the pushed event happens."""
    kind, sender = facts["type"], facts["from"]
    if platform == "mp" and kind in ("subscribe", "unsubscribe"):
        user = fake.mp_users.setdefault(sender, {"openid": sender, "subscribed": False, "nickname": ""})
        user["subscribed"] = kind == "subscribe"
    if platform == "mp" and kind == "TEMPLATESENDJOBFINISH":
        for message in fake.messages:
            if message["platform"] == "mp" and str(message["msgid"]) == str(facts["msgid"]):
                message["receipt"] = event.get("status", "success")


@bp.post("/push")
def push():
    body = _body()
    platform, url = body.get("platform"), body.get("url")
    if platform not in ("mp", "work"):
        return _bad('platform is "mp" or "work"')
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _bad("url must be our absolute callback URL")
    fake = state()
    try:
        with fake.lock:
            seed_now = copy.deepcopy(fake.seed)
            if isinstance(body.get("xml"), str):
                plaintext = body["xml"]
            elif isinstance(body.get("event"), dict):
                plaintext, facts = build_plaintext(platform, seed_now, body["event"], messages=fake.messages)
                _apply_event(fake, platform, facts, body["event"])
            else:
                return _bad('give "xml" (inner plaintext) or "event"')
        query, payload = build_request(platform, seed_now, plaintext, body.get("tamper") or ())
    except PushError as exc:
        return _bad(str(exc))
    timeout = float(body.get("timeout") or fake.settings["FAKE_PUSH_TIMEOUT"])
    result = deliver(url, query, payload, timeout, replay=bool(body.get("replay")))
    result.update(url=url, query=query, xml=plaintext)
    return jsonify(result)
