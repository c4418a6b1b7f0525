"""Security headers on every response, and the input edge: text no page, database or export can hold is
refused before any view runs.

No inline script anywhere, so the CSP can forbid it.

The input edge (``refuse_bad_input``, the first ``before_request`` of the application) looks at every query
string, form field (names, values, uploaded file names) and JSON body (keys and values, at any depth) and
answers 400 with a Chinese message when it finds a character of ``BAD_TEXT``: C0 and C1 control characters
other than tab, newline and carriage return, lone surrogates and the noncharacters U+FFFE/U+FFFF — what XML
(hence the .xlsx export) and PostgreSQL text (NUL) cannot hold and what no clerk types on purpose. A JSON body
nested deeper than ``MAX_JSON_DEPTH`` is refused the same way before it is parsed (the parser would recurse
into a 500). A query string or url-encoded form whose percent-escapes undo to bytes that are no UTF-8 (``%ED%A0%80``,
a lone surrogate; ``%FF``) is refused too: werkzeug would hand the view the escape as literal text. Nothing has
been read or written yet when the edge refuses, so nothing needs undoing.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus, unquote_to_bytes

from flask import request

from core.errors import ValidationFailed

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")

#: Refused in any text a request carries (and removed from stored text by migration 0010clean and from the
#: export's cells): control characters but tab, newline and carriage return; lone surrogates; U+FFFE/U+FFFF.
BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
BAD_TEXT_MESSAGE = "含有不允许的控制字符或无效字符（常见于从其他软件复制粘贴的文字），请删除后重新填写"
#: The deepest JSON body accepted; the API's deepest real body (a case with its parties) is 3 levels.
MAX_JSON_DEPTH = 32
JSON_DEPTH_MESSAGE = f"JSON 请求体嵌套层数过多（最多 {MAX_JSON_DEPTH} 层）"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: A JSON string, or an unterminated one up to the end: every match attempt succeeds and nothing backtracks,
#: so a body of escaped quotes (``"\\"\\"\\"…``) costs linear time, not quadratic.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class BadInput(ValidationFailed):
    """Text the edge refuses: 400, with the offending fields (query.<name>, <form field>, <json.path>)."""

    status = 400
    default_message = "提交的内容含有不允许的控制字符或无效字符，请删除后重新提交；未保存任何内容"


def has_bad_text(value: str) -> bool:
    return BAD_TEXT.search(value) is not None


def strip_bad_text(value: str) -> str:
    return BAD_TEXT.sub("", value)


def _label(key: str) -> str:
    return strip_bad_text(key)[:64] or "?"


def bad_text_paths(value, path: str = "") -> list[str]:
    """Where a JSON-like value (dicts, lists, strings, numbers) holds refused text: keys and values."""
    out: list[str] = []
    stack = [(path, value)]
    while stack:  # iterative: depth was bounded already, but a walk must never be the thing that recurses
        where, item = stack.pop()
        if isinstance(item, str):
            if has_bad_text(item):
                out.append(where or "body")
        elif isinstance(item, dict):
            for key, sub in item.items():
                child = f"{where}.{_label(str(key))}" if where else _label(str(key))
                if isinstance(key, str) and has_bad_text(key):
                    out.append(child)
                stack.append((child, sub))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), sub) for i, sub in enumerate(item))
    return sorted(set(out))


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked without parsing)."""
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _undecodable(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def undecodable_names(raw: bytes) -> list[str]:
    """Names of the pairs of url-encoded text (a query string, a form body) whose bytes are no UTF-8 once the
    percent-escapes are undone: werkzeug keeps such an escape as literal text ("%ED%A0%80", a lone surrogate,
    would reach the view as those nine characters), so the edge reads the raw bytes."""
    if not _undecodable(raw):
        return []
    out = []
    for pair in raw.split(b"&"):
        name, _sep, value = pair.partition(b"=")
        if _undecodable(name) or _undecodable(value):
            out.append(_label(unquote_plus(name.decode("latin-1"), errors="replace")))
    return out


def _json_text() -> str | None:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return raw.decode(json.detect_encoding(raw))
    except (UnicodeDecodeError, LookupError):
        return None  # not JSON at all: the view answers it (400)


def refuse_bad_input():
    """The input edge (see the module docstring); raises BadInput, answered by the error pages."""
    errors: dict[str, list[str]] = {}
    for key, values in request.args.lists():
        if has_bad_text(key) or any(has_bad_text(v) for v in values):
            errors[f"query.{_label(key)}"] = [f"网址参数{BAD_TEXT_MESSAGE}"]
    for key in undecodable_names(request.query_string):
        errors[f"query.{key}"] = [f"网址参数{BAD_TEXT_MESSAGE}"]
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if request.mimetype == "application/x-www-form-urlencoded":
            for key in undecodable_names(request.get_data(cache=True)):  # read before the form parser does
                errors[key] = [BAD_TEXT_MESSAGE]
        if request.mimetype in FORM_TYPES:
            for key, values in request.form.lists():
                if has_bad_text(key) or any(has_bad_text(v) for v in values):
                    errors[_label(key)] = [BAD_TEXT_MESSAGE]
            for key, files in request.files.lists():
                if has_bad_text(key) or any(f.filename and has_bad_text(f.filename) for f in files):
                    errors[_label(key)] = [f"文件名{BAD_TEXT_MESSAGE}"]
        elif request.is_json:
            text = _json_text()
            if text is not None:
                if json_depth_exceeds(text):
                    raise BadInput({"body": [JSON_DEPTH_MESSAGE]}, message=JSON_DEPTH_MESSAGE)
                try:
                    body = json.loads(text)
                except (ValueError, RecursionError):
                    body = None  # malformed JSON: the view refuses it as it always did
                for path in bad_text_paths(body):
                    errors[path] = [BAD_TEXT_MESSAGE]
    if errors:
        raise BadInput(errors)


def init_app(app):
    # First of all before_request functions: before the CSRF check, the API's bearer check and the route guard,
    # none of which then reads a refused value (nor writes a token's last use for a refused request).
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_bad_input)

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if app.config.get("HSTS_SECONDS"):
            response.headers["Strict-Transport-Security"] = f"max-age={int(app.config['HSTS_SECONDS'])}; includeSubDomains"
        if request.endpoint == "static" or (request.endpoint or "").endswith(".static"):
            response.headers["Cache-Control"] = "public, max-age=86400"
        else:
            # Pages and API answers carry personal data: never kept by a browser or proxy.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
