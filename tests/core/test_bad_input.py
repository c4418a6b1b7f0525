"""Bad input at every form: each field broken in turn is refused with 422, Chinese messages only, nothing
written, the user's typing kept (never a password); malformed bodies to every POST route never give a 5xx.

Form routes are found through ``app.url_map`` (endpoints accepting POST that are CSRF-protected); each has
a spec below — a new form route fails ``test_every_form_route_has_a_spec`` until it gets one. The broken
values are derived from the route's marshmallow schema (required → empty, Length → one character too many,
Integer → letters, OneOf → a value not offered, Range → out of range, Regexp → a value not matching), plus
an unknown extra field.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from flask import url_for
from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.core.test_route_registry import Jurisdiction, isolated_client, representatives, signed_in_client

HAN = re.compile(r"[\u3400-\u9fff]")
#: marshmallow's and Flask-WTF's English defaults: none may reach a user.
ENGLISH_DEFAULTS = (
    "Missing data for required field", "Not a valid", "Unknown field", "Field may not be null", "Invalid value",
    "The CSRF token", "CSRF token missing", "Length must be", "Must be one of", "Must be greater",
    "Must be less", "String does not match", "Shorter than", "Longer than", "Invalid input type",
    "Invalid input", "Bad Request", "Internal Server Error", "Traceback",
)
EXTRA_FIELD = "is_admin"


# --- specs of the form routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormSpec:
    #: who submits it (None: anonymous, for public forms)
    user: str | None
    #: URL parameters of the POST route
    params: Callable = lambda demo: {}
    #: the page showing the form (GET before submitting), or None
    page: Callable | None = None
    #: a valid submission (the last request of the test, which must then succeed)
    valid: Callable = lambda demo: {}
    #: dotted path of the load schema; None for a form that takes no fields at all
    schema: str | None = "core.schemas.EmptyArgs"
    #: an upload form (its bad input is tested with broken files below)
    upload: bool = False


def _calendar_draft_2027(demo):
    """Publishing needs at least one holiday entered for the year."""
    from datetime import date

    from core.actor import Actor
    from core.calendar.operations import set_day

    set_day(date(2027, 2, 8), "holiday", actor=Actor.system("cli"), name="春节")
    demo.db.session.commit()
    return {"year": "2027"}


def _uid(name):
    return lambda demo: {"user_id": demo.user(name).id}


def _user_page(name):
    return lambda demo: f"/admin/users/{demo.user(name).id}"


def _grid(demo):
    return demo.unit("青石村第1网格")


def _district(demo):
    return demo.unit("示范区")


def _dead_delivery(demo):
    """A dead letter for qs01.cadre (inside the admin's jurisdiction): the one thing requeue accepts."""
    from notify.models import DeliveryStatus
    from notify.outbox import enqueue

    n = enqueue("bad.input.test", demo.user("qs01.cadre"), {"title": "测试", "body": "坏输入测试"},
                key="bad-input-dead-letter")
    delivery = n.deliveries[0]
    delivery.status = DeliveryStatus.dead
    demo.db.session.commit()
    return delivery


def _policy_values(demo):
    from core.accounts.policy import FIELDS, current_policy

    policy = current_policy()
    return {f: str(getattr(policy, f)) for f in FIELDS}


FORM_SPECS: dict[str, FormSpec] = {
    "accounts.login": FormSpec(
        None, page=lambda demo: "/login", schema="core.accounts.schemas.LoginArgs",
        valid=lambda demo: {"username": "qs.staff", "password": DEMO_PASSWORD, "next": "/account"}),
    "accounts.logout": FormSpec("qs.staff", page=lambda demo: "/account", schema=None),
    "accounts.change_password": FormSpec(
        "qs.staff", page=lambda demo: "/account/password", schema="core.accounts.schemas.ChangePasswordArgs",
        valid=lambda demo: {"current_password": DEMO_PASSWORD, "new_password": "Geheim#Neu2026",
                            "confirm_password": "Geheim#Neu2026"}),
    "users.new": FormSpec(
        "admin", page=lambda demo: "/admin/users/new", schema="core.accounts.schemas.UserCreateArgs",
        valid=lambda demo: {"username": "bad.input.new", "display_name": "新建测试", "title": "调解员",
                            "password": "Anfang#2026xy", "role": "village_cadre",
                            "unit_code": demo.unit("青石村").code,
                            "department_id": str(demo.department("区信访局").id)}),
    "users.edit": FormSpec(
        "admin", _uid("qs01.cadre"), _user_page("qs01.cadre"), schema="core.accounts.schemas.UserUpdateArgs",
        valid=lambda demo: {"display_name": "改过的名字", "title": "调解委员"}),
    "users.disable": FormSpec("admin", _uid("qs01.cadre"), _user_page("qs01.cadre")),
    "users.enable": FormSpec("admin", _uid("qs01.cadre"), _user_page("qs01.cadre")),
    "users.reset_password": FormSpec(
        "admin", _uid("qs01.cadre"), _user_page("qs01.cadre"), schema="core.accounts.schemas.ResetPasswordArgs",
        valid=lambda demo: {"password": "Zurueck#2026xy"}),
    "users.add_membership": FormSpec(
        "admin", _uid("qs01.cadre"), _user_page("qs01.cadre"), schema="core.accounts.schemas.MembershipArgs",
        valid=lambda demo: {"role": "village_cadre", "unit_code": demo.unit("上坝村").code,
                            "department_id": str(demo.department("区信访局").id)}),
    "users.end_membership": FormSpec(
        "admin", lambda demo: {"membership_id": demo.user("qs01.cadre").memberships[0].id},
        _user_page("qs01.cadre")),
    "users.security_policy": FormSpec(
        "secadmin", page=lambda demo: "/admin/security", schema="core.accounts.schemas.PolicyArgs",
        valid=_policy_values),
    "users.unlock": FormSpec(
        "secadmin", page=lambda demo: "/admin/security", schema="core.accounts.schemas.UnlockArgs",
        valid=lambda demo: {"username": "qs01.cadre"}),
    "org.unit_new": FormSpec(
        "admin", lambda demo: {"unit_id": demo.unit("青石村").id},
        lambda demo: f"/admin/org/{demo.unit('青石村').id}/new", schema="core.org.schemas.UnitCreateArgs",
        valid=lambda demo: {"kind": "grid", "code": "990101101001G99", "name": "新网格",
                            "center_name": "网格调解点"}),
    "org.unit_edit": FormSpec(
        "admin", lambda demo: {"unit_id": _district(demo).id},
        lambda demo: f"/admin/org/{_district(demo).id}/edit", schema="core.org.schemas.UnitUpdateArgs",
        valid=lambda demo: {"code": _district(demo).code, "name": "示范区", "center_name": "示范区综治中心",
                            "case_prefix": "SF"}),
    "org.unit_disable": FormSpec("admin", lambda demo: {"unit_id": _grid(demo).id},
                                 lambda demo: f"/admin/org/{demo.unit('青石村').id}"),
    "org.unit_enable": FormSpec("admin", lambda demo: {"unit_id": _grid(demo).id},
                                lambda demo: f"/admin/org/{demo.unit('青石村').id}"),
    "org.import_tree": FormSpec("admin", page=lambda demo: "/admin/org/import", schema=None, upload=True),
    "org.department_new": FormSpec(
        "admin", page=lambda demo: "/admin/departments/new", schema="core.org.schemas.DepartmentArgs",
        valid=lambda demo: {"unit_id": str(_district(demo).id), "name": "新设部门", "kind": "resident",
                            "duty": "测试职责", "phone": "022-12345678"}),
    "org.department_edit": FormSpec(
        "admin", lambda demo: {"dept_id": demo.department("区信访局").id},
        lambda demo: f"/admin/departments/{demo.department('区信访局').id}/edit",
        schema="core.org.schemas.DepartmentArgs",
        valid=lambda demo: {"unit_id": str(demo.department("区信访局").unit_id), "name": "区信访局",
                            "kind": "resident", "duty": "信访事项登记", "phone": "022-12345678"}),
    "org.department_disable": FormSpec(
        "admin", lambda demo: {"dept_id": demo.department("区妇联").id},
        lambda demo: f"/admin/departments/{demo.department('区妇联').id}/edit"),
    "org.department_enable": FormSpec(
        "admin", lambda demo: {"dept_id": demo.department("区妇联").id},
        lambda demo: f"/admin/departments/{demo.department('区妇联').id}/edit"),
    "calendar.set_day": FormSpec("admin", page=lambda demo: "/admin/calendar/day?date=2027-02-08",
                                 schema="core.calendar.schemas.SetDayArgs",
                                 valid=lambda demo: {"day": "2027-02-08", "kind": "holiday", "name": "春节"}),
    "calendar.publish": FormSpec("admin", page=lambda demo: "/admin/calendar/publish?y=2027",
                                 schema="core.calendar.schemas.PublishYearArgs", valid=_calendar_draft_2027),
    "notify_prefs.edit": FormSpec("qs.staff", page=lambda demo: "/account/notifications/",
                                  schema="notify.preferences.PreferenceArgs",
                                  valid=lambda demo: {"first": "wecom", "quiet_start": "21:30", "quiet_end": "07:30"}),
    "notify_admin.requeue": FormSpec(
        "admin", lambda demo: {"delivery_id": _dead_delivery(demo).id},
        lambda demo: f"/admin/notify/notifications/{_dead_delivery(demo).notification_id}"),
    "notify_admin.resume": FormSpec("admin", lambda demo: {"channel": "wecom"},
                                    lambda demo: "/admin/notify/channels"),
    "notify_admin.send_test": FormSpec("admin", _uid("qs01.cadre"), lambda demo: "/admin/notify/bindings"),
}


def _import(dotted: str):
    import importlib

    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def form_endpoints(app) -> list[str]:
    """Endpoints taking a POST that CSRF protects (callbacks from WeChat are exempt and are no forms)."""
    from core.extensions import csrf

    out = set()
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        view = app.view_functions[rule.endpoint]
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            continue
        out.add(rule.endpoint)
    return sorted(out)


def post_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: r.endpoint)


# --- reading the answer --------------------------------------------------------------------------------------


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class FormPage(HTMLParser):
    """Inputs (name → type, value), selects (name → options, selected) and error texts of a page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.inputs: dict[str, tuple[str, str]] = {}
        self.selects: dict[str, dict] = {}
        self.textareas: dict[str, str] = {}
        self.errors: list[str] = []
        self._stack: list[str] = []
        self._collectors: list[tuple[int, list[str]]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "input" and a.get("name"):
            self.inputs[a["name"]] = (a.get("type", "text"), a.get("value", ""))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.selects[a["name"]] = {"options": [], "selected": []}
        elif tag == "option" and self._select:
            self.selects[self._select]["options"].append(a.get("value", ""))
            if "selected" in a:
                self.selects[self._select]["selected"].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.textareas[a["name"]] = ""
        if tag in VOID:
            return
        self._stack.append(tag)
        classes = set(a.get("class", "").split())
        if classes & {"error", "flash-error"}:
            self._collectors.append((len(self._stack), []))

    def handle_endtag(self, tag):
        if tag in VOID or not self._stack:
            return
        while self._stack:  # tolerate an unclosed child
            if self._stack.pop() == tag:
                break
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None
        while self._collectors and self._collectors[-1][0] > len(self._stack):
            _, parts = self._collectors.pop()
            self.errors.append(" ".join("".join(parts).split()))

    def handle_data(self, data):
        for _, parts in self._collectors:
            parts.append(data)
        if self._textarea:
            self.textareas[self._textarea] += data


def assert_no_english(body: str, where: str) -> None:
    lowered = body.lower()
    leaked = [s for s in ENGLISH_DEFAULTS if s.lower() in lowered]
    assert not leaked, f"{where}: English default messages reach the user: {leaked}"


# --- the database must not change on a refused submit ----------------------------------------------------------


def snapshot(db) -> dict:
    """Every row of every table but the sessions (bookkeeping), ordered by primary key."""
    from core.db import Base

    out = {}
    for table in Base.metadata.sorted_tables:
        if table.name == "web_sessions":
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        out[table.name] = [tuple(row) for row in db.session.execute(select(table).order_by(*order))]
    return out


def diff(before: dict, after: dict) -> list[str]:
    changed = []
    for name in before:
        if before[name] != after[name]:
            added = [r for r in after[name] if r not in before[name]]
            removed = [r for r in before[name] if r not in after[name]]
            changed.append(f"{name}: +{added[:3]} -{removed[:3]}")
    return changed


# --- broken values, derived from the schema -----------------------------------------------------------------


def broken_values(schema) -> list[tuple[str, str, object]]:
    """(field, what, value) for each way a field can be wrong."""
    from marshmallow import fields as mf
    from marshmallow import validate

    out = []
    for name, f in schema.fields.items():
        if f.required:
            out.append((name, "empty", ""))
        if isinstance(f, mf.Integer):
            out.append((name, "letters for an integer", "十二abc"))
        for v in f.validators:
            if isinstance(v, validate.Length) and v.max is not None:
                out.append((name, f"longer than {v.max}", "长" * (v.max + 1)))
            elif isinstance(v, validate.OneOf):
                out.append((name, "not one of the choices", "not-a-choice"))
            elif isinstance(v, validate.Range) and v.max is not None:
                out.append((name, f"above {v.max}", str(v.max + 1)))
            elif isinstance(v, validate.Regexp):
                out.append((name, "not matching the pattern", "非法 值!"))
    return out


def expected_messages(schema, data: dict) -> list[str]:
    from marshmallow import ValidationError

    try:
        schema.load(data)
    except ValidationError as exc:
        return [m for msgs in exc.messages.values() for m in (msgs if isinstance(msgs, list) else [msgs])]
    return []


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_policy_cache():
    """The policy is cached per process; a rolled-back edit must not outlive the test."""
    from core.accounts.policy import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()


def open_form(app, demo, endpoint):
    """Sign in as the spec's user, GET the page; (client, token, action URL, spec)."""
    spec = FORM_SPECS[endpoint]
    if spec.user is None:
        client = isolated_client(app)
        token = csrf_from(client.get("/login").get_data(as_text=True))
    else:
        client, token = signed_in_client(app, spec.user)
    params = spec.params(demo)
    with app.test_request_context():
        action = url_for(endpoint, **params)
    if spec.page is not None:
        page = client.get(spec.page(demo))
        assert page.status_code == 200, f"{endpoint}: the form page {spec.page(demo)} answers {page.status_code}"
        token = csrf_from(page.get_data(as_text=True))
    return client, token, action, spec


# --- tests --------------------------------------------------------------------------------------------------------


def test_every_form_route_has_a_spec(app, db):
    missing = [e for e in form_endpoints(app) if e not in FORM_SPECS]
    assert not missing, f"form routes without a bad-input spec in {__name__}: {missing}"
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
    assert response.status_code == 302, (f"{endpoint}: the valid submission answers {response.status_code}\n"
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


# --- malformed bodies --------------------------------------------------------------------------------------------


def _malformed_bodies(valid: dict) -> list[tuple[str, dict]]:
    first = next(iter(valid), "name")
    return [
        ("garbage bytes", {"data": bytes(range(256)) * 8, "content_type": "application/octet-stream"}),
        ("garbage declared as a form", {"data": b"%%%\xff\xfe=&=&&==%zz&a[b]=c%00",
                                        "content_type": "application/x-www-form-urlencoded"}),
        ("wrong content type", {"data": f"{first}=x", "content_type": "text/plain"}),
        ("JSON instead of a form", {"json": valid or {"a": 1}}),
        ("XML", {"data": b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                 "content_type": "text/xml"}),
        ("a huge field", {"data": {**valid, first: "x" * 2_000_000}}),
        ("invalid UTF-8", {"data": f"{first}=%FF%FE%FD&title=".encode() + b"\xc3\x28\xff",
                           "content_type": "application/x-www-form-urlencoded"}),
        ("repeated fields", {"data": MultiDict([*valid.items(), (first, "second"), (first, "third")])}),
        ("multipart without a file", {"data": {**valid}, "content_type": "multipart/form-data"}),
        ("multipart with a broken body", {"data": b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nx',
                                          "content_type": "multipart/form-data; boundary=xyz"}),
        ("multipart without a boundary", {"data": b"garbage", "content_type": "multipart/form-data"}),
        ("an empty body", {"data": b"", "content_type": "application/x-www-form-urlencoded"}),
    ]


def _identity(app, db, demo, rule):
    """(client, token, url, valid data) for a POST rule: its spec, or a user holding its permission."""
    from core.actor import Actor
    from core.auth.decorators import route_rule
    from core.auth.permissions import has_permission

    if rule.endpoint in FORM_SPECS:
        client, token, action, spec = open_form(app, demo, rule.endpoint)
        return client, token, action, spec.valid(demo)
    is_public, action = route_rule(rule.endpoint)
    if is_public:
        client = isolated_client(app)
        token = csrf_from(client.get("/login").get_data(as_text=True))
        user = demo.user("admin")
    else:
        user = next(u for u in representatives(db) if has_permission(Actor.for_user(u), action))
        client, token = signed_in_client(app, user.username)
    with app.test_request_context():
        url = url_for(rule.endpoint, **Jurisdiction(db, user).fill(rule))
    return client, token, url, {}


def _post_endpoints():
    from tests.conftest import make_app

    return [r.endpoint for r in post_rules(make_app("sqlite://"))]


@pytest.mark.parametrize("endpoint", _post_endpoints())
def test_malformed_bodies_never_cause_a_server_error(app, db, demo, endpoint):
    rule = next(r for r in post_rules(app) if r.endpoint == endpoint)
    client, token, url, valid = _identity(app, db, demo, rule)
    failures = []
    for what, kwargs in _malformed_bodies(valid):
        response = client.post(url, headers={"X-CSRFToken": token}, **kwargs)
        body = response.get_data(as_text=True)
        if response.status_code >= 500:
            failures.append(f"{what}: {response.status_code}")
            continue
        try:
            assert_no_english(body, what)
        except AssertionError as exc:
            failures.append(str(exc))
        if response.status_code >= 400 and response.mimetype == "text/html" and not HAN.search(body):
            failures.append(f"{what}: {response.status_code} page without a Chinese message")
    assert not failures, f"POST {url} ({endpoint}):\n" + "\n".join(failures)


def test_a_body_over_the_size_limit_is_refused_with_413(app, db, demo):
    client, token = signed_in_client(app, "admin")
    limit = app.config["MAX_CONTENT_LENGTH"]
    for url in ("/login", f"/admin/users/{demo.user('qs01.cadre').id}/edit", "/admin/org/import"):
        response = client.post(url, data=b"a=" + b"x" * limit, headers={"X-CSRFToken": token},
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413, (url, response.status_code)
        assert "过大" in response.get_data(as_text=True)


# --- out-of-range ids in URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_out_of_range_ids_in_urls_answer_404(app, db, demo, huge):
    """An id no column can hold is simply not found (SQLite raises OverflowError on binding it)."""
    client, token = signed_in_client(app, "admin")
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        int_args = [a for a in rule.arguments if a.endswith("_id")]
        if not int_args:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            with app.test_request_context():
                values = Jurisdiction(db, demo.user("admin")).fill(rule)
                values.update({a: huge for a in int_args})
                url = url_for(rule.endpoint, **values)
            response = client.open(url, method=method, data={"csrf_token": token})
            if response.status_code != 404:
                failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, f"ids out of range (={huge}) not answered 404:\n" + "\n".join(failures)


def test_out_of_range_ids_in_forms_are_refused_with_422(app, db, demo):
    """Ids typed into a form that no column can hold: refused like any unknown id, never a 5xx."""
    client, token = signed_in_client(app, "admin")
    dept = demo.department("区信访局")
    cases = [
        ("/admin/users/new", {"username": "range.test", "display_name": "范围测试", "password": "Anfang#2026xy",
                              "role": "department_liaison"}, "department_id"),
        (f"/admin/users/{demo.user('qs01.cadre').id}/memberships", {"role": "department_head"}, "department_id"),
        ("/admin/departments/new", {"name": "范围部门", "kind": "resident"}, "unit_id"),
        (f"/admin/departments/{dept.id}/edit", {"name": dept.name, "kind": "resident"}, "unit_id"),
    ]
    failures = []
    for url, data, key in cases:
        for huge in (2**31, 2**63):
            before = snapshot(db)
            response = client.post(url, data={**data, key: str(huge), "csrf_token": token})
            if response.status_code != 422:
                failures.append(f"POST {url} with {key}={huge}: {response.status_code}")
            elif diff(before, snapshot(db)):
                failures.append(f"POST {url} with {key}={huge}: the database changed")
    assert not failures, "\n".join(failures)


# --- the org tree import ----------------------------------------------------------------------------------------


def _good_xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["代码", "名称", "上级代码", "类型"])
    ws.append(["990101101001G98", "导入网格", "990101101001", "网格"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            content = change(name, src.read(name))
            if content is not None:
                z.writestr(name, content)
    return out.getvalue()


def _zip_with(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def _broken_files() -> list[tuple[str, str, bytes]]:
    good = _good_xlsx()
    return [
        ("garbage named .xlsx", "tree.xlsx", b"PK\x03\x04 this is not a workbook"),
        ("empty .xlsx", "tree.xlsx", b""),
        ("truncated .xlsx", "tree.xlsx", good[: len(good) // 2]),
        ("a zip that is no workbook", "tree.xlsx", _zip_with({"hello.txt": b"hi"})),
        ("a zip with a broken manifest", "tree.xlsx", _zip_with({"[Content_Types].xml": b"<<garbage"})),
        ("a workbook whose sheet XML is cut", "tree.xlsx",
         _rezip(good, lambda n, d: d[: len(d) // 2] if "worksheets/sheet1" in n else d)),
        ("a workbook without worksheets", "tree.xlsx",
         _rezip(good, lambda n, d: b"<?xml version='1.0'?><x/>" if n == "xl/workbook.xml" else d)),
        ("a PDF", "tree.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
        ("a text file", "tree.txt", "代码,名称,上级代码,类型\n".encode()),
        ("no extension", "tree", b"code,name,parent_code,kind\n"),
        ("a CSV in no known encoding", "tree.csv", b"\xff\xfe\xfa\x00garbage"),
        ("a CSV with a huge field", "tree.csv", b"code,name,parent_code,kind\n" + b"a" * 200_000),
        ("a CSV without the columns", "tree.csv", "名称\n青石村\n".encode()),
        ("a CSV with a bad row", "tree.csv", "代码,名称,上级代码,类型\n12,,990101101001,网格村\n".encode()),
        ("an empty CSV", "tree.csv", b""),
    ]


def test_import_refuses_broken_and_foreign_files_in_chinese(app, db, demo):
    client, token, action, _spec = open_form(app, demo, "org.import_tree")
    failures = []
    for what, filename, content in _broken_files():
        before = snapshot(db)
        response = client.post(action, data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
                               content_type="multipart/form-data")
        body = response.get_data(as_text=True)
        if response.status_code != 422:
            failures.append(f"{what}: {response.status_code}, expected 422")
            continue
        if diff(before, snapshot(db)):
            failures.append(f"{what}: the database changed")
        page = FormPage(body)
        if not page.errors or not all(HAN.search(m) for m in page.errors):
            failures.append(f"{what}: error messages {page.errors!r}")
        try:
            assert_no_english(body, what)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "org import:\n" + "\n".join(failures)


def test_import_without_a_file_and_the_valid_import(app, db, demo):
    from core.org.models import OrgUnit

    client, token, action, _spec = open_form(app, demo, "org.import_tree")
    response = client.post(action, data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "请选择要导入的文件" in response.get_data(as_text=True)
    # the other direction: a good workbook is imported
    response = client.post(action, data={"csrf_token": token, "file": (io.BytesIO(_good_xlsx()), "tree.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    assert db.session.scalar(select(OrgUnit).where(OrgUnit.code == "990101101001G98")) is not None

