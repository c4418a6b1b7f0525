"""Bad input at every form: each field broken in turn is refused with 422, Chinese messages only, nothing
written, the user's typing kept (never a password). The form specs and helpers live in ``forms_spec``;
malformed bodies, out-of-range ids and broken uploads are in ``test_bad_input_bodies``.
"""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from tests.conftest import csrf_from
from tests.core.forms_spec import (
    EXTRA_FIELD,
    FORM_SPECS,
    HAN,
    FormPage,
    FormSpec,
    _fresh_policy_cache,  # noqa: F401 -- autouse fixture, found by pytest in this module's namespace
    _import,
    assert_no_english,
    broken_values,
    diff,
    expected_messages,
    form_endpoints,
    open_form,
    snapshot,
)
from tests.core.test_route_registry import isolated_client, signed_in_client

# --- tests --------------------------------------------------------------------------------------------------------


def test_every_form_route_has_a_spec(app, db):
    missing = [e for e in form_endpoints(app) if e not in FORM_SPECS]
    assert not missing, f"form routes without a bad-input spec in {FormSpec.__module__}: {missing}"
    stale = [e for e in FORM_SPECS if e not in app.view_functions]
    assert not stale, f"specs for routes that no longer exist: {stale}"


def _submit_broken(db, client, action, token, data, schema, where):
    before = snapshot(db)
    response = client.post(action, data={**data, "csrf_token": token})
    after = snapshot(db)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, f"{where}: {response.status_code}, expected 422"
    changed = diff(before, after)
    assert not changed, f"{where}: the refused submit changed the database: {changed}"
    assert_no_english(body, where)

    page = FormPage(body)
    assert page.errors, f"{where}: no error message shown"
    for message in page.errors:
        assert HAN.search(message), f"{where}: error message without Chinese: {message!r}"
    for message in expected_messages(schema, data):
        assert HAN.search(message), f"{where}: schema message without Chinese: {message!r}"
        assert str(escape(message)) in body, f"{where}: the message {message!r} is not shown"

    for key, typed in data.items():
        if key == EXTRA_FIELD:
            continue
        if key in page.inputs:
            kind, shown = page.inputs[key]
            if kind == "password":
                assert shown == "", f"{where}: the password field {key} is refilled"
                if typed:
                    assert typed not in body, f"{where}: the typed password {key} is echoed"
            else:
                assert shown == typed, f"{where}: {key} not kept: typed {typed[:20]!r}, shown {shown[:20]!r}"
        elif key in page.selects and typed in page.selects[key]["options"]:
            assert page.selects[key]["selected"] == [typed], f"{where}: choice {key} not kept"
        elif key in page.textareas:
            assert page.textareas[key] == typed, f"{where}: {key} not kept"


FIELD_FORMS = [e for e, s in FORM_SPECS.items() if not s.upload]


@pytest.mark.parametrize("endpoint", FIELD_FORMS)
def test_each_broken_field_is_refused_in_chinese_and_changes_nothing(app, db, demo, endpoint):
    client, token, action, spec = open_form(app, demo, endpoint)
    valid = spec.valid(demo)
    if spec.schema is None:
        cases = []
    else:
        schema = _import(spec.schema)()
        cases = [(name, what, {**valid, name: value}) for name, what, value in broken_values(schema)]
        cases.append((EXTRA_FIELD, "an unknown extra field", {**valid, EXTRA_FIELD: "1"}))
        assert expected_messages(schema, valid) == [], f"{endpoint}: the spec's valid data is not valid"

    failures: list[str] = []
    for name, what, data in cases:
        where = f"{endpoint} with {name} {what}"
        try:
            _submit_broken(db, client, action, token, data, schema, where)
        except AssertionError as exc:
            failures.append(str(exc).split("\nassert")[0])
    assert not failures, "\n".join(failures)

    # the other direction: the valid submission goes through
    response = client.post(action, data={**valid, "csrf_token": token})
    assert response.status_code == spec.success_status, (
        f"{endpoint}: the valid submission answers {response.status_code}\n"
        f"{response.get_data(as_text=True)[:800]}")


def test_login_keeps_the_username_but_never_the_password(app, db, demo):
    client = isolated_client(app)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "username": "qs.staff",
                                           "password": "Falsch#Passwort1", "surprise": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    page = FormPage(body)
    assert page.inputs["username"] == ("text", "qs.staff")
    assert page.inputs["password"] == ("password", "")
    assert "Falsch#Passwort1" not in body


def test_a_refused_form_is_rerendered_without_a_query_per_unit(app, db, demo):
    """A refused user form re-renders with the unit list it showed; the rollback after the refusal must not
    leave that list to be reloaded one unit at a time (a province tree holds thousands of units)."""
    from sqlalchemy import event, func
    from sqlalchemy.engine import Engine

    from core.org.models import OrgUnit

    units = db.session.scalar(select(func.count()).select_from(OrgUnit))
    client, token = signed_in_client(app, "admin")
    uid = demo.user("qs01.cadre").id
    page = client.get("/admin/users/new")
    assert page.status_code == 200
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    results = {}
    event.listen(Engine, "before_cursor_execute", count)
    try:
        for url, data in [(f"/admin/users/{uid}/edit", {"display_name": ""}),
                          ("/admin/users/new", {"username": ""}),
                          (f"/admin/users/{uid}/memberships", {"role": "not-a-role"}),
                          ("/admin/users/new", {})]:
            statements.clear()
            response = client.post(url, data={**data, "csrf_token": token})
            assert response.status_code == 422
            results[url] = len(statements)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    too_many = {url: n for url, n in results.items() if n > 60}
    assert not too_many, f"SQL statements per refused submit with {units} units in the tree: {too_many}"
