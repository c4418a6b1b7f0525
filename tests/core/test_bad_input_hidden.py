"""Hidden input at the request edge (core.security): control characters, NUL, lone surrogates and JSON nested
too deep are refused with 400 and a Chinese message at every form route, every JSON route and in the query
string of every route, before any view runs: nothing is written, never a 500. Tab, newline and carriage return
stay allowed where text allows them. The tables (``HIDDEN``, ``hidden_form_cases``, ``json_cases``, the form and
JSON specs) live in ``forms_spec``.
"""

from __future__ import annotations

import io
import json

import pytest
from flask import url_for
from sqlalchemy import select

from core.security import BAD_TEXT_MESSAGE, JSON_DEPTH_MESSAGE
from tests.core.forms_spec import (
    ALLOWED_WHITESPACE,
    FORM_SPECS,
    HAN,
    HIDDEN,
    JSON_SPECS,
    _fresh_policy_cache,  # noqa: F401 -- autouse fixture, found by pytest in this module's namespace
    assert_no_english,
    deep_json_text,
    diff,
    fill_url,
    hidden_form_cases,
    json_cases,
    json_endpoints,
    nested,
    open_form,
    snapshot,
)
from tests.core.test_route_registry import Jurisdiction, isolated_client, signed_in_client


def _assert_refused_page(response, where: str, message: str = BAD_TEXT_MESSAGE) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 400, f"{where}: {response.status_code}, expected 400\n{body[:400]}"
    assert_no_english(body, where)
    if response.mimetype == "application/json":
        error = response.get_json()["error"]
        assert error["code"] == "bad_request", f"{where}: {error}"
        assert HAN.search(error["message"]), f"{where}: {error}"
        assert any(message in m for msgs in error["fields"].values() for m in msgs), f"{where}: {error}"
    else:
        assert message in body, f"{where}: the page does not say what is wrong\n{body[:800]}"


def _with_query(url: str, query: dict | None) -> str:
    from urllib.parse import urlencode

    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}" if query else url


# --- every form route --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", sorted(FORM_SPECS))
def test_hidden_characters_at_every_form_are_refused_and_change_nothing(app, db, demo, endpoint):
    client, token, action, spec = open_form(app, demo, endpoint)
    valid = spec.valid(demo)  # may create what it needs: before the snapshot
    before = snapshot(db)
    failures = []

    def refused(response, where, message=BAD_TEXT_MESSAGE):
        try:
            _assert_refused_page(response, where, message)
        except AssertionError as exc:
            failures.append(str(exc).split("\nassert")[0])

    for what, data, query in hidden_form_cases(valid):
        refused(client.post(_with_query(action, query), data={**data, "csrf_token": token}), f"{endpoint} with {what}")
    csrf = {"X-CSRFToken": token}
    refused(client.post(action, json={**valid, "x": "\x00"}, headers=csrf), f"{endpoint} with JSON holding NUL")
    refused(client.post(action, data=deep_json_text(5000), content_type="application/json", headers=csrf),
            f"{endpoint} with JSON nested 5000 levels", JSON_DEPTH_MESSAGE)
    if spec.upload:
        refused(client.post(action, data={"csrf_token": token, "file": (io.BytesIO(b"a,b\n"), "tree\x1b.csv")},
                            content_type="multipart/form-data"),
                f"{endpoint} with an escape in a file name", f"文件名{BAD_TEXT_MESSAGE}")
    changed = diff(before, snapshot(db))
    assert not changed, f"{endpoint}: a refused submit changed the database: {changed}"
    assert not failures, "\n".join(failures)
    if not spec.upload:  # the other direction: the same form, clean, goes through the edge
        response = client.post(action, data={**valid, "csrf_token": token})
        assert response.status_code == spec.success_status, (
            f"{endpoint}: the valid submission answers {response.status_code}\n{response.get_data(as_text=True)[:800]}")


def test_tab_newline_and_carriage_return_stay_allowed_in_text(app, db, demo):
    from center.cases.models import Case

    client, token, action, spec = open_form(app, demo, "case_intake.new")
    summary = "坏输入测试：第一行\r\n第二行\t缩进\n第三行\r"
    response = client.post(action, data={**spec.valid(demo), "summary": summary, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    stored = db.session.scalar(select(Case.summary).where(Case.summary.like("坏输入测试：第一行%")))
    assert stored is not None and all(c in stored for c in ALLOWED_WHITESPACE)
    # and in a query string, a JSON body and an API search: never refused by the edge
    assert client.get("/cases/?q=" + "%09%0A%0D").status_code != 400


# --- every JSON route ----------------------------------------------------------------------------------------


def test_every_json_route_has_a_spec(app, db):
    missing = [e for e in json_endpoints(app) if e not in JSON_SPECS]
    assert not missing, f"JSON routes without a hidden-input spec in tests/core/forms_spec.py: {missing}"
    stale = [e for e in JSON_SPECS if e not in app.view_functions]
    assert not stale, f"specs for routes that no longer exist: {stale}"


def _bearer(demo, username: str) -> dict:
    from core.accounts.tokens import issue_token

    _row, plain = issue_token(demo.user(username), label="坏输入测试", actor=demo.actor(username))
    demo.db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.mark.parametrize("endpoint", sorted(JSON_SPECS))
def test_hidden_characters_and_deep_nesting_in_json_are_refused_and_change_nothing(app, db, demo, endpoint):
    spec = JSON_SPECS[endpoint]
    headers = _bearer(demo, spec.user)
    with app.test_request_context():
        url = url_for(endpoint, **spec.params(demo))
    valid = spec.valid(demo)
    client = isolated_client(app)
    before = snapshot(db)
    failures = []
    for what, text in json_cases(valid):
        response = client.post(url, data=text, content_type="application/json", headers=headers)
        message = JSON_DEPTH_MESSAGE if what.startswith("nested") else BAD_TEXT_MESSAGE
        try:
            _assert_refused_page(response, f"{endpoint} with {what}", message)
        except AssertionError as exc:
            failures.append(str(exc).split("\nassert")[0])
    response = client.post(_with_query(url, {"q": "\x00"}), json=valid, headers=headers)
    try:
        _assert_refused_page(response, f"{endpoint} with NUL in the query string", f"网址参数{BAD_TEXT_MESSAGE}")
    except AssertionError as exc:
        failures.append(str(exc).split("\nassert")[0])
    changed = diff(before, snapshot(db))  # (the token's last use neither: the edge answers before the bearer check)
    assert not changed, f"{endpoint}: a refused request changed the database: {changed}"
    assert not failures, "\n".join(failures)
    # within the limit is no edge matter: the schema answers (an unknown field), never a 400 or a 500
    response = client.post(url, json={**valid, "extra": nested(30)}, headers=headers)
    assert response.status_code == 422, f"{endpoint} with 31 levels: {response.status_code}, expected the schema's 422"
    response = client.post(url, json=valid, headers=headers)
    assert response.status_code == spec.success_status, response.get_data(as_text=True)[:800]


def test_a_refused_json_body_names_the_field(app, db, demo):
    headers = _bearer(demo, "qs.staff")
    body = JSON_SPECS["api.create_case"].valid(demo)
    body["parties"][0]["name"] = "周\ud800"
    response = isolated_client(app).post("/api/v1/cases", data=json.dumps(body), content_type="application/json",
                                         headers=headers)
    assert response.status_code == 400
    assert list(response.get_json()["error"]["fields"]) == ["parties.0.name"]


# --- the query string of every route ------------------------------------------------------------------------


def test_hidden_characters_in_the_query_string_of_every_route_are_refused(app, db, demo):
    """Signed in as the administrator and anonymously: the edge answers before the route guard and the view."""
    admin, _token = signed_in_client(app, "admin")
    anonymous = isolated_client(app)
    jurisdiction = Jurisdiction(db, demo.user("admin"))
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        method = "GET" if "GET" in rule.methods else "POST"
        with app.test_request_context():
            url = url_for(rule.endpoint, **fill_url(jurisdiction, rule))
        for who, client in (("admin", admin), ("anonymous", anonymous)):
            for what, ch in HIDDEN[:1] + HIDDEN[5:6]:
                response = client.open(_with_query(url, {"q": f"a{ch}b"}), method=method)
                try:
                    _assert_refused_page(response, f"{who} {method} {url} with {what}", f"网址参数{BAD_TEXT_MESSAGE}")
                except AssertionError as exc:
                    failures.append(str(exc).split("\n")[0])
    assert not failures, "\n".join(failures)
