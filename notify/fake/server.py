"""The fake WeChat API server: a small Flask app, independent of our main app and database.

Both platforms share one loopback port under path prefixes: the Official Account (服务号) under ``/mp`` (so its
API base is ``http://127.0.0.1:PORT/mp/cgi-bin/`` and its OAuth base ``http://127.0.0.1:PORT/mp/``), WeCom
(企业微信/政务微信) under ``/work`` (``http://127.0.0.1:PORT/work/cgi-bin/``). Every platform answer is HTTP 200
with a JSON errcode, as on the real platforms; every platform request is logged (``GET /_fake/requests``), with
access tokens and app secrets shown as ``***`` there and in the console's access lines.
Faults queued with ``POST /_fake/faults`` are applied here, before (or after) the endpoint runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from notify.fake import control, mp, work
from notify.fake.common import error_for, state
from notify.fake.state import FakeState

PLATFORM_PREFIXES = ("/mp/", "/work/")
BODY_LOG_LIMIT = 64 * 1024
#: Query parameters and JSON keys whose values neither log shows (the console's access lines, /_fake/requests):
#: access tokens and app secrets, as a real gateway's log must not hold them either.
SECRET_PARAMS = frozenset({"access_token", "refresh_token", "secret", "corpsecret"})
_SECRET_IN_TEXT = re.compile(r"(?<![\w-])(access_token|refresh_token|secret|corpsecret)=[^&\s#\"']*", re.IGNORECASE)
REDACTED = "***"


def redact(text: str) -> str:
    """``text`` (a URL, a request line, a log message) with every secret parameter's value replaced by ***."""
    return _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def redact_params(params: dict) -> dict:
    return {k: REDACTED if k.lower() in SECRET_PARAMS else v for k, v in params.items()}


def _platform(path: str) -> str | None:
    if path.startswith("/mp/"):
        return "mp"
    if path.startswith("/work/"):
        return "work"
    return None


def _dropped_response() -> Response:
    """A response that closes the client's connection without answering (real server only)."""
    sock = request.environ.get("werkzeug.socket")

    def body():
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("fake WeChat: connection dropped on purpose")
        yield b""  # a generator: werkzeug's server treats the error as a dropped connection

    return Response(body(), status=200, mimetype="application/json")


def _fault_before():
    platform = _platform(request.path)
    if platform is None:
        return None
    fake = state()
    with fake.lock:
        fault = fake.take_fault(request.path)
    if fault is None:
        return None
    g.fake_fault = fault
    if fault["when"] == "after":
        return None
    if fault["delay"]:
        time.sleep(fault["delay"])
    if fault["drop"]:
        return _dropped_response()
    if fault["http_status"]:
        if fault["errcode"] is not None:
            response = error_for(platform, fault["errcode"], fault["errmsg"] or "")
        else:
            status = fault["http_status"]
            response = Response(f"<html><body><h1>{status}</h1>fake gateway error</body></html>",
                                mimetype="text/html")
        response.status_code = fault["http_status"]
        return response
    if fault["errcode"] is not None:
        response = error_for(platform, fault["errcode"])
        if fault["errmsg"]:
            response = jsonify(errcode=fault["errcode"], errmsg=fault["errmsg"])
        return response
    return None


def _log_request(response: Response) -> Response:
    platform = _platform(request.path)
    if platform is None:
        return response
    errcode = g.get("fake_errcode")
    if errcode is None and response.is_json and not response.is_streamed:
        payload = response.get_json(silent=True)
        if isinstance(payload, dict) and "errcode" in payload:
            errcode = payload["errcode"]
        elif isinstance(payload, dict):
            errcode = 0
    fault = g.get("fake_fault")
    dropped = bool(fault and fault["drop"])
    if fault and fault["when"] == "after":
        if fault["delay"]:
            time.sleep(fault["delay"])
        if fault["drop"]:
            response = _dropped_response()
    raw = request.get_data(cache=True)
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        parsed = None
    fake = state()
    with fake.lock:
        fake.requests.append({
            "id": fake.next_id(), "time": fake.now(), "method": request.method, "path": request.path,
            "platform": platform, "query": redact_params(request.args.to_dict()),
            "json": redact_params(parsed) if isinstance(parsed, dict) else parsed,
            "body": None if parsed is not None or not raw else redact(raw[:BODY_LOG_LIMIT].decode("utf-8", "replace")),
            "status": None if dropped else response.status_code, "errcode": None if dropped else errcode,
            "duplicate": bool(g.get("fake_duplicate")), "dropped": dropped,
            "fault": None if fault is None else {k: fault[k] for k in ("errcode", "http_status", "delay",
                                                                         "drop", "when")},
        })
    return response


def _not_implemented(rest: str):
    response = jsonify(errcode=-1, errmsg=f"fake WeChat: no such API {request.path}")
    response.status_code = 404
    return response


def create_fake_app(config: dict | None = None) -> Flask:
    """The fake's Flask app. ``config`` may be our app's config: MP_* / WECOM_* values override the demo seed,
    ``FAKE_WECHAT_SEED`` (same shape as POST /_fake/seed) is applied on top, FAKE_* keys tune the fake."""
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024
    app.extensions["fake_wechat"] = FakeState(dict(config or {}))
    app.register_blueprint(mp.bp)
    app.register_blueprint(work.bp)
    app.register_blueprint(control.bp)
    app.before_request(_fault_before)
    app.after_request(_log_request)
    for prefix in PLATFORM_PREFIXES:
        app.add_url_rule(f"{prefix}<path:rest>", f"missing_{prefix.strip('/')}", _not_implemented,
                         methods=["GET", "POST"])
    return app


class RedactingHandler(WSGIRequestHandler):
    """Werkzeug's request handler whose log lines (access lines, errors) never show a token or a secret."""

    def log(self, type: str, message: str, *args) -> None:
        text = message % args if args else message
        super().log(type, "%s", redact(text))


class _QuietHandler(RedactingHandler):
    def log_request(self, *args, **kwargs):  # benchmarks and tests: no line per request
        pass


def serve(app: Flask, host: str, port: int, *, quiet: bool = False):
    """A threaded werkzeug server for ``app`` (not yet serving)."""
    return make_server(host, port, app, threaded=True, request_handler=_QuietHandler if quiet else RedactingHandler)


def start_fake_server(port: int = 0, config: dict | None = None, host: str = "127.0.0.1"):
    """Serve a fresh fake on a background thread. Returns ``(server, base_url, thread)``; the fake app is
    ``server.app`` and its state ``server.app.extensions["fake_wechat"]``. Stop it with ``stop_fake_server``."""
    server = serve(create_fake_app(config), host, port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"fake-wechat-{server.server_port}", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_port}", thread


def stop_fake_server(server, thread: threading.Thread | None = None) -> None:
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)


stop = stop_fake_server
