"""Issue #10 item 9 beyond the form table (test_bad_input_hidden): the edge's pieces, the schemas' own refusal,
the .xlsx export of stored text no worksheet can hold, migration 0010clean on the engine under test, and the
``Allow`` header of every 405 (HTML and JSON)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
from flask import url_for
from openpyxl import load_workbook
from sqlalchemy import select, text
from werkzeug.exceptions import MethodNotAllowed

from core.security import BAD_TEXT, MAX_JSON_DEPTH, bad_text_paths, json_depth_exceeds, strip_bad_text
from tests import dbutil
from tests.core.forms_spec import HAN, HIDDEN_JSON, deep_json_text, fill_url, nested
from tests.core.test_route_registry import Jurisdiction, isolated_client, signed_in_client

#: What each engine can store at all: PostgreSQL text holds no NUL; neither driver binds a lone surrogate.
STORABLE = "".join(ch for _what, ch in HIDDEN_JSON
                   if not 0xD800 <= ord(ch) <= 0xDFFF and not (ch == "\x00" and dbutil.ENGINE == "postgresql"))


# --- the edge's pieces -------------------------------------------------------------------------------------------


def test_the_refused_set_is_controls_surrogates_and_noncharacters_but_not_text():
    for _what, ch in HIDDEN_JSON:
        assert BAD_TEXT.search(f"a{ch}b"), repr(ch)
    for good in ("\t", "\n", "\r", "中文，标点。", "𠀀𪚥", "SF-2026-000123", "\u00a0", "\u3000", "\ufeff", "€"):
        assert not BAD_TEXT.search(good), repr(good)
    assert strip_bad_text("甲\x00乙\x0b丙\ud800丁\t戊") == "甲乙丙丁\t戊"


def test_json_depth_is_counted_without_parsing_and_ignores_brackets_in_strings():
    assert not json_depth_exceeds('{"a": [1, 2, {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}')
    assert not json_depth_exceeds(deep_json_text(MAX_JSON_DEPTH))
    assert json_depth_exceeds(deep_json_text(MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds(deep_json_text(1_000_000))  # a parser would recurse into a RecursionError
    assert not json_depth_exceeds('["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]')  # an escaped quote
    import json

    assert json_depth_exceeds(json.dumps(nested(MAX_JSON_DEPTH + 1)))
    assert not json_depth_exceeds(json.dumps(nested(MAX_JSON_DEPTH)))


def test_json_depth_costs_linear_time_on_escaped_quotes():
    """A body of escaped quotes after one opening quote made a backtracking string pattern quadratic (40 000 took
    50 s): the edge must stay linear up to the request size limit."""
    import time

    started = time.monotonic()
    assert not json_depth_exceeds('"' + '\\"' * 2_000_000)
    assert not json_depth_exceeds('"' * 2_000_000)
    assert json_depth_exceeds("[" * 2_000_000 + '"' + '\\"' * 1_000_000)
    assert time.monotonic() - started < 5


def test_bad_text_paths_name_keys_and_values_at_any_depth():
    body = {"summary": "好", "parties": [{"name": "甲\x00"}, {"name": "乙"}], "k\x1b": 1, "n": [1, "\ud800"]}
    assert bad_text_paths(body) == ["k", "n.1", "parties.0.name"]
    assert bad_text_paths("\x07") == ["body"]
    assert bad_text_paths({"a": [1, 2.5, None, True]}) == []


def test_a_schema_refuses_hidden_characters_however_the_data_arrives(app):
    """Data that reaches a schema without passing the edge (a CLI, a job, a test): the same refusal, as a field
    error (422 in a form, the field named in the API)."""
    from marshmallow import ValidationError

    from center.api.schemas import CaseArgs
    from core.security import BAD_TEXT_MESSAGE

    for _what, ch in HIDDEN_JSON:
        with pytest.raises(ValidationError) as info:
            CaseArgs().load({"kind": "dispute", "summary": f"邻里{ch}纠纷", "category": "邻里纠纷",
                             "channel": "visit", "origin_unit_id": 1,
                             "parties": [{"role": "applicant", "kind": "person", "name": f"甲{ch}"}]})
        messages = info.value.messages
        assert messages["summary"] == [BAD_TEXT_MESSAGE], (repr(ch), messages)


# --- the .xlsx export ------------------------------------------------------------------------------------------


def test_the_workbook_drops_what_no_worksheet_can_hold():
    from center.cases.listing.export import HEADER, build_workbook

    dirty = "".join(ch for _what, ch in HIDDEN_JSON)
    row = ["SF-2026-000001", "纠纷", "", "其他", "来访", "已登记", "黄", f"青石镇{dirty}", "2026-12-02 09:00", "", "",
           f"反映{dirty}拖欠工资\t第一行\n第二行", f"周{dirty}某", "139****9876", "=HYPERLINK(\"x\")"]
    ws = load_workbook(io.BytesIO(build_workbook([row], truncated=False))).active
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0] == list(HEADER)
    assert values[1][7] == "青石镇" and values[1][11] == "反映拖欠工资\t第一行\n第二行" and values[1][12] == "周某"
    assert values[1][14] == "=HYPERLINK(\"x\")"  # still text, never a formula


def test_the_export_never_fails_on_a_stored_value(signed_in, db, demo):
    """Text stored before the edge refused it (written here past every check, as an old row or an import
    would): the export answers 200 with the text cleaned, on the engine under test."""
    from center.cases.models import Case, Party

    case = db.session.scalar(select(Case).where(Case.summary == "反映镇中心小学周边交通安全隐患"))
    party = next(p for p in case.parties if p.role == "applicant")
    conn = db.session.connection()
    conn.execute(text("UPDATE cases SET summary = :s WHERE id = :id"), {"s": f"反映{STORABLE}隐患", "id": case.id})
    conn.execute(text("UPDATE case_parties SET name = :n WHERE id = :id"), {"n": f"张{STORABLE}三", "id": party.id})
    db.session.expire_all()
    assert db.session.get(Case, case.id).summary == f"反映{STORABLE}隐患"  # the engine kept it
    assert db.session.get(Party, party.id).name == f"张{STORABLE}三"
    response = signed_in("qs.staff").get("/cases/export.xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    ws = load_workbook(io.BytesIO(response.data)).active
    row = next(r for r in ws.iter_rows(values_only=True) if r[0] == case.number)
    assert row[11] == "反映隐患" and row[12] == "张三"


# --- migration 0010clean ------------------------------------------------------------------------------------------

MIGRATION = next(Path(__file__).resolve().parents[2].glob("migrations/versions/*_0010clean_*.py"))


def _migration():
    spec = importlib.util.spec_from_file_location("m0010clean_hygiene", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_removes_what_the_edge_refuses_from_every_listed_column(db, demo):
    """Every column the migration lists exists, each dirty value is cleaned (tab, newline and carriage return
    kept), clean rows are not written, on the engine under test."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    module = _migration()
    assert module.DIRTY.pattern == BAD_TEXT.pattern  # one set: the edge's, the migration's, the export's
    conn = db.session.connection()
    inspector = inspect(conn)
    dirtied: dict[tuple[str, str], tuple[int, str]] = {}
    for table, columns in module.COLUMNS.items():
        present = {c["name"] for c in inspector.get_columns(table)}
        assert set(columns) <= present, (table, set(columns) - present)
        for column in columns:
            row_id = conn.execute(text(f"SELECT min(id) FROM {table} WHERE {column} IS NOT NULL")).scalar()
            if row_id is None:
                continue  # the demo holds no such text: nothing to dirty
            dirty = f"甲{STORABLE}乙\t丙\r\n丁"
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": dirty, "id": row_id})
            dirtied[(table, column)] = (row_id, "甲乙\t丙\r\n丁")
    assert ("cases", "summary") in dirtied and ("case_parties", "name") in dirtied and ("case_events", "note") in dirtied
    untouched = conn.execute(text("SELECT id, summary FROM cases WHERE id <> :id ORDER BY id"),
                             {"id": dirtied["cases", "summary"][0]}).fetchall()

    with Operations.context(MigrationContext.configure(conn)):
        module.upgrade()
        module.upgrade()  # running twice changes nothing more

    for (table, column), (row_id, expected) in dirtied.items():
        value = conn.execute(text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": row_id}).scalar()
        assert value == expected, (table, column, value)
    assert conn.execute(text("SELECT id, summary FROM cases WHERE id <> :id ORDER BY id"),
                        {"id": dirtied["cases", "summary"][0]}).fetchall() == untouched
    assert module.clean_table(conn, "cases", module.COLUMNS["cases"]) == 0


# --- 405 carries Allow -------------------------------------------------------------------------------------------

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def test_every_405_carries_an_allow_header(app, db, demo):
    """For every route and every method it does not take (and no other route at that URL takes), the answer is
    405 with werkzeug's ``Allow`` header and a Chinese page, or the JSON envelope under /api/."""
    from core.accounts.tokens import issue_token
    from core.error_pages import is_api_path

    admin, _token = signed_in_client(app, "admin")
    _row, plain = issue_token(demo.user("qs.staff"), label="405 测试", actor=demo.actor("qs.staff"))
    db.session.commit()
    bearer = {"Authorization": f"Bearer {plain}"}
    api = isolated_client(app)
    adapter = app.url_map.bind("localhost")
    jurisdiction = Jurisdiction(db, demo.user("admin"))
    failures, checked = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        with app.test_request_context():
            url = url_for(rule.endpoint, **fill_url(jurisdiction, rule))
        path = url.split("?")[0]
        for method in METHODS:
            try:
                adapter.match(path, method=method)
                continue
            except MethodNotAllowed as exc:
                expected = set(exc.valid_methods)
            except Exception:  # noqa: BLE001 - a redirect or no match: not a 405 case
                continue
            checked += 1
            if is_api_path(path):
                response = api.open(url, method=method, headers=bearer)
            else:
                response = admin.open(url, method=method)
            where = f"{method} {url}"
            allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
            if response.status_code != 405:
                failures.append(f"{where}: {response.status_code}")
            elif allow != expected:
                failures.append(f"{where}: Allow {sorted(allow)}, expected {sorted(expected)}")
            elif is_api_path(path):
                if response.mimetype != "application/json" or response.get_json()["error"]["code"] != "method_not_allowed":
                    failures.append(f"{where}: not the JSON envelope")
            elif not HAN.search(response.get_data(as_text=True)):
                failures.append(f"{where}: no Chinese message")
    assert checked > len(list(app.url_map.iter_rules())), checked
    assert not failures, "\n".join(failures)


# --- headers that land in rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["a\x00b", "x\x1by", "中文编号", "a b", "x" * 65, "gw-2026/12:02+abc=="])
def test_the_request_id_is_ours_and_the_gateway_s_is_kept_apart(app, given):
    """Every audit row of a request carries an id the server made: a client never chooses the id that joins
    audit rows. The gateway's X-Request-Id is recorded beside it when it is a plain id (printable ASCII, at most
    64 characters), and dropped otherwise."""
    from core.web import client_request_id, request_id

    with app.test_request_context("/", headers={"X-Request-Id": given}):
        rid, theirs = request_id(), client_request_id()
    assert rid != given and len(rid) == 32 and rid.isalnum()
    assert theirs == (given if given == "gw-2026/12:02+abc==" else None)
