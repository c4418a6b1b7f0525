"""Shared pieces of the bad-input tests (``test_bad_input`` and ``test_bad_input_bodies``): the spec of every
form route, the reading of the answer, database snapshots, broken values derived from the schemas, and the
autouse policy-cache fixture (imported by name into each test module). Not a test module: nothing is collected.

Form routes are found through ``app.url_map`` (endpoints accepting POST that are CSRF-protected); each has
a spec below — a new form route fails ``test_every_form_route_has_a_spec`` until it gets one. The broken
values are derived from the route's marshmallow schema (required → empty, Length → one character too many,
Integer → letters, OneOf → a value not offered, Range → out of range, Regexp → a value not matching), plus
an unknown extra field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from flask import url_for
from sqlalchemy import select

from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.core.test_route_registry import isolated_client, signed_in_client
from tests.specs import collect
from tests.specs.base import FormSpec  # noqa: F401 - the spec record, re-exported

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


for _extra in collect("FORM_SPECS"):
    FORM_SPECS.update(_extra)


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
    if spec.environ:
        client.environ_base.update(spec.environ)  # every later request of the test carries it
    if spec.prepare is not None:
        spec.prepare(client, demo)
    params = spec.params(demo)
    with app.test_request_context():
        action = url_for(endpoint, **params)
    if spec.page is not None:
        page = client.get(spec.page(demo))
        assert page.status_code == 200, f"{endpoint}: the form page {spec.page(demo)} answers {page.status_code}"
        token = csrf_from(page.get_data(as_text=True))
    return client, token, action, spec


# --- hidden input: characters no page, database or export can hold (core.security's request edge) -------------

#: (what, character): each is refused wherever a request carries text. Lone surrogates cannot travel in a form
#: or a query string (werkzeug leaves an undecodable percent-escape as it is), only as a JSON \\u escape: they
#: are in ``HIDDEN_JSON``.
HIDDEN = [
    ("NUL", "\x00"), ("a bell", "\x07"), ("a backspace", "\x08"), ("a vertical tab", "\x0b"),
    ("a form feed", "\x0c"), ("an escape", "\x1b"), ("a unit separator", "\x1f"), ("DEL", "\x7f"),
    ("a C1 control", "\x85"), ("the noncharacter U+FFFF", "\uffff"),
]
HIDDEN_JSON = [*HIDDEN, ("a lone high surrogate", "\ud800"), ("a lone low surrogate", "\udfff")]
#: Allowed where text allows them: never refused by the edge.
ALLOWED_WHITESPACE = ("\t", "\n", "\r")


def nested(depth: int, leaf=1):
    """A JSON value nested ``depth`` levels deep (lists and objects alternating)."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def deep_json_text(depth: int) -> str:
    """The text of a JSON value nested ``depth`` levels: built without recursion, for depths a parser
    cannot follow."""
    return "[" * depth + "1" + "]" * depth


def hidden_form_cases(valid: dict) -> list[tuple[str, dict | None, dict | None]]:
    """(what, form data, query string) for each hidden character: in the middle of a field's value, turn and
    turn about over the form's fields (a form without fields gets it in an extra one), once in a field's name,
    and in the query string of the action."""
    names = [k for k, v in valid.items() if isinstance(v, str)] or ["note"]
    out = []
    for i, (what, ch) in enumerate(HIDDEN):
        name = names[i % len(names)]
        out.append((f"{what} in {name}", {**valid, name: f"{valid.get(name, '')[:1]}{ch}{valid.get(name, '')[1:]}"},
                    None))
    out.append(("NUL in a field name", {**valid, "no\x00te": "x"}, None))
    out.append(("NUL in the query string", valid, {"q": "a\x00b"}))
    out.append(("an escape in a query parameter's name", valid, {"x\x1by": "1"}))
    return out


def json_cases(valid: dict) -> list[tuple[str, str]]:
    """(what, JSON text) with a hidden character in a string value, a key, a nested value, or too deep."""
    import json

    key = next((k for k, v in valid.items() if isinstance(v, str)), "note")
    out = []
    for what, ch in HIDDEN_JSON:
        out.append((f"{what} in {key}", json.dumps({**valid, key: f"前{ch}后"})))
    out.append(("a surrogate in a key", json.dumps({**valid, "a\ud800": "x"})))
    out.append(("NUL deep inside a list", json.dumps({**valid, "parties": [{"name": "甲\x00乙"}]})))
    out.append(("nested 33 levels", json.dumps({**valid, "extra": nested(33)})))
    out.append(("nested 100 000 levels", deep_json_text(100_000)))
    out.append(("nested 100 000 levels of objects", '{"a":' * 100_000 + "1" + "}" * 100_000))
    return out


# --- specs of the JSON routes (the API's writes) ----------------------------------------------------------------

def _api_intake(demo) -> dict:
    return {"origin_unit_id": demo.unit("青石镇").id, "kind": "petition", "petition_class": "appeal",
            "category": "其他", "channel": "online", "summary": "坏输入测试：反映村道路灯损坏", "demands": "尽快修复",
            "people_count": 1, "risk_colour": "blue",
            "parties": [{"role": "applicant", "kind": "person", "name": "坏输入测试人"}]}


def _api_case_number(demo) -> str:
    number = getattr(demo, "_json_spec_case", None)
    if number is None:
        from tests.factories import make_case

        case = make_case(demo, "qs.staff", "青石镇", category="邻里纠纷", summary="坏输入测试：邻里纠纷",
                         applicant="坏输入测试人", repeat_of=None, commit=True)
        number = demo._json_spec_case = case.number
    return number


@dataclass(frozen=True)
class JsonSpec:
    #: who calls it, with a bearer token of their own
    user: str
    #: URL parameters of the route
    params: Callable = lambda demo: {}
    #: a valid body (the last request of the test, which must then succeed)
    valid: Callable = lambda demo: {}
    success_status: int = 200


#: Every route taking a JSON body (POST under /api/); a new one fails ``test_every_json_route_has_a_spec``.
JSON_SPECS: dict[str, JsonSpec] = {
    "api.create_case": JsonSpec("qs.staff", valid=_api_intake, success_status=201),
    "api.transition_case": JsonSpec("qs.staff", lambda demo: {"number": _api_case_number(demo)},
                                    lambda demo: {"action": "accept", "note": "坏输入测试：予以受理"}),
    "api.search_cases": JsonSpec("qs.staff", valid=lambda demo: {"q": "坏输入测试 查找"}),
}
for _extra in collect("JSON_SPECS"):
    JSON_SPECS.update(_extra)


def json_endpoints(app) -> list[str]:
    from core.error_pages import is_api_path

    return sorted({r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods and is_api_path(r.rule)})


def fill_url(jurisdiction, rule) -> dict:
    """URL values for any route: a static file's name, else real objects in the jurisdiction."""
    if "filename" in rule.arguments:
        return {"filename": "app.css"}
    return jurisdiction.fill(rule)
