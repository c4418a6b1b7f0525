"""Hidden input over the whole URL map (core.security's request edge): EVERY route taking POST, PUT or PATCH —
forms, the JSON API, CSRF-exempt callbacks — answers raw bodies holding NUL, a bell, a lone surrogate (as a JSON
``\\ud800`` escape and as the percent-encoded bytes ``%ED%A0%80`` of a form or a query string) and JSON nested 40
deep with 400 and a Chinese message, anonymously, signed in and with a bearer token, and nothing is written. The
per-form table with valid data around the hidden character is ``test_bad_input_hidden``; the export of stored
control characters and the ``Allow`` header of every 405 are in ``test_text_hygiene``.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from flask import url_for
from sqlalchemy import func, select, text

from core.error_pages import is_api_path
from core.security import BAD_TEXT_MESSAGE, JSON_DEPTH_MESSAGE, undecodable_names
from tests.core.forms_spec import (
    HAN,
    _fresh_policy_cache,  # noqa: F401 -- autouse fixture, found by pytest in this module's namespace
    assert_no_english,
    diff,
    fill_url,
    open_form,
    snapshot,
)
from tests.core.test_route_registry import Jurisdiction, isolated_client, signed_in_client

WRITE_METHODS = ("POST", "PUT", "PATCH")
FORM = "application/x-www-form-urlencoded"

#: (what, raw url-encoded body): the character in a value, in a field's name, as invalid UTF-8.
FORM_BODIES = [
    ("NUL in a form field", b"note=a%00b"),
    ("a bell in a form field", b"note=a%07b"),
    ("a lone surrogate (%ED%A0%80) in a form field", b"note=a%ED%A0%80b"),
    ("a lone surrogate (%ED%A0%80) in a form field's name", b"no%ED%A0%80te=1"),
    ("a stray byte (%FF) in a form field", b"note=%FF"),
]
#: (what, raw JSON text, the message expected)
JSON_BODIES = [
    ("a lone surrogate escape in a JSON string", b'{"note": "\\ud800"}', BAD_TEXT_MESSAGE),
    ("a lone surrogate escape in a JSON key", b'{"\\udfff": 1}', BAD_TEXT_MESSAGE),
    ("NUL in a JSON string", b'{"note": "a\\u0000b"}', BAD_TEXT_MESSAGE),
    ("a bell in a JSON string", b'{"note": "a\\u0007b"}', BAD_TEXT_MESSAGE),
    ("JSON nested 40 levels", b"[" * 40 + b"1" + b"]" * 40, JSON_DEPTH_MESSAGE),
    ("JSON objects nested 40 levels", b'{"a":' * 40 + b"1" + b"}" * 40, JSON_DEPTH_MESSAGE),
]
#: (what, query string) sent with an empty POST
QUERIES = [("a lone surrogate (%ED%A0%80) in the query string", "q=a%ED%A0%80b"),
           ("NUL in the query string", "q=a%00b")]


def _refusal(response, where: str, message: str) -> str | None:
    """Why the answer is not the edge's refusal (None when it is)."""
    body = response.get_data(as_text=True)
    if response.status_code != 400:
        return f"{where}: {response.status_code}, expected 400: {body[:200]!r}"
    try:
        assert_no_english(body, where)
    except AssertionError as exc:
        return str(exc)
    if response.mimetype == "application/json":
        error = (response.get_json(silent=True) or {}).get("error") or {}
        if error.get("code") != "bad_request" or not HAN.search(error.get("message", "")):
            return f"{where}: not the Chinese JSON envelope: {body[:200]!r}"
        if not any(message in m for msgs in error.get("fields", {}).values() for m in msgs):
            return f"{where}: the envelope does not say what is wrong: {error}"
    elif message not in body:
        return f"{where}: the page does not say what is wrong: {body[:300]!r}"
    return None


def _write_routes(app, db, demo) -> list[tuple[str, str]]:
    """(method, URL) of every rule taking a write method, its parameters filled with real objects."""
    jurisdiction = Jurisdiction(db, demo.user("admin"))
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        methods = [m for m in WRITE_METHODS if m in rule.methods]
        if not methods:
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **fill_url(jurisdiction, rule))
        out.extend((method, url) for method in methods)
    db.session.commit()  # what filling the URLs created is no part of the comparison
    return out


def _counts(db) -> tuple[int, int]:
    return (db.session.scalar(text("SELECT count(*) FROM audit_entries")),
            db.session.scalar(text("SELECT count(*) FROM cases")))


def test_every_write_route_refuses_hidden_input_before_anything_runs(app, db, demo):
    from core.accounts.tokens import issue_token

    routes = _write_routes(app, db, demo)
    assert routes and any(is_api_path(url) for _m, url in routes), routes
    admin, _token = signed_in_client(app, "admin")
    _row, plain = issue_token(demo.user("qs.staff"), label="隐藏字符测试", actor=demo.actor("qs.staff"))
    db.session.commit()
    bearer = {"Authorization": f"Bearer {plain}"}
    anonymous = isolated_client(app)
    before, counts = snapshot(db), _counts(db)

    failures: list[str] = []
    sent = 0
    for method, url in routes:
        callers = [("anonymous", anonymous, {})]
        callers.append(("bearer", anonymous, bearer) if is_api_path(url) else ("admin", admin, {}))
        for who, client, headers in callers:
            def check(where, message=BAD_TEXT_MESSAGE, **kwargs):
                nonlocal sent
                sent += 1
                reason = _refusal(client.open(method=method, headers=headers, **kwargs),
                                  f"{who} {method} {where}", message)
                if reason:
                    failures.append(reason)

            for what, body in FORM_BODIES:
                check(f"{url} with {what}", path=url, data=body, content_type=FORM)
            for what, body, message in JSON_BODIES:
                check(f"{url} with {what}", message, path=url, data=body, content_type="application/json")
            for what, query in QUERIES:
                check(f"{url} with {what}", f"网址参数{BAD_TEXT_MESSAGE}", path=f"{url}?{query}", data=b"",
                      content_type=FORM)
            check(f"{url} with a bell in an uploaded file's name", f"文件名{BAD_TEXT_MESSAGE}", path=url,
                  data={"file": (io.BytesIO(b"a,b\n"), "tree\x07.csv")}, content_type="multipart/form-data")
            check(f"{url} with NUL in a multipart field", path=url,
                  data={"note": "a\x00b", "file": (io.BytesIO(b"\x00\x07 bytes are no text"), "ok.csv")},
                  content_type="multipart/form-data")
    assert sent > 10 * len(routes)
    assert _counts(db) == counts, "audit_entries or cases changed on a refused request"
    changed = diff(before, snapshot(db))
    assert not changed, f"a refused request changed the database: {changed}"
    assert not failures, f"{len(failures)} of {sent} not refused at the edge:\n" + "\n".join(failures[:60])


def test_file_bytes_are_not_text_and_pass_the_edge(app, db, demo):
    """Control characters inside an uploaded file are the file's business (its own checks answer), never the
    edge's: the org import answers with its own message, not the edge's 400."""
    client, token, action, _spec = open_form(app, demo, "org.import_tree")
    response = client.post(action, data={"csrf_token": token, "file": (io.BytesIO(b"\x00\x07\xff\xfe"), "units.csv")},
                           content_type="multipart/form-data")
    assert response.status_code != 500
    assert BAD_TEXT_MESSAGE not in response.get_data(as_text=True)


def test_tab_newline_and_utf8_escapes_in_a_raw_form_body_are_accepted(app, db, demo):
    """The raw-byte check of the edge refuses only bytes that are no UTF-8: Chinese text percent-encoded and
    tab, newline and carriage return go through to the view and are stored."""
    from center.cases.models import Case

    client, token, action, spec = open_form(app, demo, "case_intake.new")
    summary = "原始表单测试：第一行\r\n第二行\t缩进\n第三行"
    body = urlencode({**spec.valid(demo), "summary": summary, "csrf_token": token}).encode("ascii")
    assert b"%E5%8E%9F" in body and b"%09" in body and b"%0D%0A" in body
    response = client.post(f"{action}?note=%E4%B8%AD%09", data=body, content_type=FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    stored = db.session.scalar(select(Case.summary).where(Case.summary.like("原始表单测试：第一行%")))
    assert stored is not None and "\t" in stored and "\n" in stored
    assert db.session.scalar(select(func.count()).select_from(Case).where(Case.summary == stored)) == 1


def test_undecodable_names_reads_raw_url_encoded_bytes():
    assert undecodable_names(b"a=%E4%B8%AD&b=%09%0A%0D&c=100%&d=%zz+x") == []
    assert undecodable_names(b"") == []
    assert undecodable_names(b"a=1&note=x%ED%A0%80y&b=2") == ["note"]
    assert undecodable_names(b"n%ED%A0%80=1") == ["n\ufffd\ufffd\ufffd"]
    assert undecodable_names(b"a=%E4%B8") == ["a"]  # a character cut in half
    assert undecodable_names(b"a=\xff") == ["a"]  # a raw byte that is no UTF-8


def test_the_edge_refuses_everything_a_worksheet_cannot_hold():
    """The export cleans cells with the edge's set: it holds all of openpyxl's illegal characters."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from core.security import BAD_TEXT

    illegal = [chr(c) for c in range(0x10000) if ILLEGAL_CHARACTERS_RE.match(chr(c))]
    assert illegal and all(BAD_TEXT.match(ch) for ch in illegal)

