"""Bad input beyond the form fields: malformed bodies to every POST route never give a 5xx, bodies over the
size limit answer 413, out-of-range ids in URLs and forms are refused, and the org tree import refuses
broken and foreign files in Chinese. The form specs and helpers live in ``forms_spec``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from flask import url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.conftest import csrf_from
from tests.core.forms_spec import (
    FORM_SPECS,
    HAN,
    FormPage,
    _fresh_policy_cache,  # noqa: F401 -- autouse fixture, found by pytest in this module's namespace
    assert_no_english,
    diff,
    open_form,
    post_rules,
    snapshot,
)
from tests.core.test_route_registry import Jurisdiction, isolated_client, representatives, signed_in_client

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
        if response.status_code < 400 and not (response.mimetype.startswith("text/") or response.is_json):
            continue  # a file the form makes (the unmasked export): accepted input, no text to read
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
    """An id no column can hold is simply not found (SQLite raises OverflowError on binding it). Asked by the
    system administrator, or — for a route whose permission he lacks (三权分立: activating memberships, issuing
    service tokens) — by the first demo user holding it, so the answer comes from the view, not the guard."""
    from core.actor import Actor
    from core.auth.decorators import route_rule
    from core.auth.permissions import has_permission

    clients: dict[str, tuple] = {}
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        int_args = [a for a in rule.arguments if a.endswith("_id")]
        if not int_args:
            continue
        _public, action = route_rule(rule.endpoint)
        user = demo.user("admin")
        if action is not None and not has_permission(Actor.for_user(user), action):
            user = next(u for u in representatives(db) if has_permission(Actor.for_user(u), action))
        if user.username not in clients:
            clients[user.username] = signed_in_client(app, user.username)
        client, token = clients[user.username]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            with app.test_request_context():
                values = Jurisdiction(db, user).fill(rule)
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
