"""The OpenAPI document of /api/v1: a valid OpenAPI 3.1 document (openapi-spec-validator), every route of the
blueprint in it, the converter's rules, and real answers that validate against the schemas it declares."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import select

from center.api.openapi import Components, openapi_path


def _document(app) -> dict:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _validator(doc: dict, ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref, "components": doc["components"]},
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _response_schema_ref(doc, path, method, status) -> str:
    return doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]["$ref"]


def _assert_valid(doc, path, method, response):
    ref = _response_schema_ref(doc, path, method, response.status_code)
    errors = sorted(_validator(doc, ref).iter_errors(response.get_json()), key=str)
    assert not errors, f"{method.upper()} {path} {response.status_code}: " + "; ".join(e.message for e in errors[:5])


def _token(demo, username):
    from core.accounts.tokens import issue_token

    _row, plain = issue_token(demo.user(username), label="文档测试", actor=demo.actor(username))
    demo.db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def test_the_document_is_public_and_valid_openapi(app, db):
    doc = _document(app)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "description": schemes["bearerAuth"][
        "description"]}
    assert schemes["csrfHeader"]["in"] == "header" and schemes["csrfHeader"]["name"] == "X-CSRFToken"
    assert schemes["cookieAuth"]["in"] == "cookie"


def test_every_route_of_the_blueprint_is_documented(app, db):
    doc = _document(app)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    assert len(rules) >= 5
    for rule in rules:
        path = openapi_path(rule.rule)
        assert path in doc["paths"], f"{rule.rule} missing from the document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path].get(method.lower())
            assert operation, f"{method} {rule.rule} missing from the document"
            assert operation["responses"]
    documented = {(p, m) for p, item in doc["paths"].items() for m in item}
    routed = {(openapi_path(r.rule), m.lower()) for r in rules for m in r.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_write_operations_declare_the_csrf_header_for_the_cookie(app, db):
    doc = _document(app)
    post = doc["paths"]["/api/v1/cases"]["post"]
    assert {"bearerAuth": []} in post["security"]
    assert {"cookieAuth": [], "csrfHeader": []} in post["security"]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CaseArgs"}
    for status in ("201", "400", "401", "403", "422"):
        assert status in post["responses"]


def test_load_schemas_are_converted_with_their_rules(app, db):
    doc = _document(app)
    args = doc["components"]["schemas"]["CaseArgs"]
    assert args["additionalProperties"] is False
    assert set(args["required"]) == {"origin_unit_id", "kind", "category", "channel", "summary", "parties"}
    props = args["properties"]
    assert props["kind"]["enum"] == ["dispute", "petition"]
    assert props["summary"]["minLength"] == 1 and props["summary"]["maxLength"] == 4000
    assert props["parties"]["type"] == "array" and props["parties"]["minItems"] == 1
    assert props["parties"]["items"] == {"$ref": "#/components/schemas/PartyArgs"}
    assert props["people_count"] == {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}
    assert props["occurred_on"]["format"] == "date" and "null" in props["occurred_on"]["type"]
    assert props["intake_key"]["pattern"].startswith("^")
    assert doc["components"]["schemas"]["PartyArgs"]["required"] == ["name"]
    listing = {p["name"]: p for p in doc["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert listing["limit"]["schema"]["maximum"] == 100 and listing["limit"]["in"] == "query"
    assert listing["status"]["schema"]["type"] == "string"  # no null in a query string
    number = doc["paths"]["/api/v1/cases/{number}"]["get"]["parameters"][0]
    assert number["in"] == "path" and number["required"] is True


def test_the_intake_rules_shared_with_the_form_are_documented(app, db):
    """The API obeys the form's intake and transition rules (one operation); the document says how to answer."""
    doc = _document(app)
    props = doc["components"]["schemas"]["CaseArgs"]["properties"]
    assert props["repeat_of"]["pattern"] == "^(none|[A-Z]{1,8}-[0-9]{4}-[0-9]{6})$"
    assert "none" in props["repeat_of"]["description"] and "null" in props["repeat_of"]["type"]
    intake = doc["paths"]["/api/v1/cases"]["post"]["description"]
    for words in ("repeat_of", "none", "intake_key", "origin_unit_id", "handling_unit_id", "网格", "403"):
        assert words in intake, words
    transition = doc["components"]["schemas"]["TransitionArgs"]["properties"]
    assert transition["legal_channel"]["enum"] == ["arbitration", "litigation", "reconsideration", None]
    assert "guide_to_legal" in transition["legal_channel"]["description"]


def test_the_converter_on_a_small_schema():
    from marshmallow import Schema, fields, validate

    class Inner(Schema):
        x = fields.Integer(required=True)

    class Outer(Schema):
        tags = fields.List(fields.String(validate=validate.OneOf(["a", "b"])), validate=validate.Length(max=3))
        inner = fields.Nested(Inner, allow_none=True, metadata={"description": "内层"})
        many = fields.Nested(Inner, many=True)
        ratio = fields.Float(validate=validate.Range(min=0, max=1, max_inclusive=False))

    components = Components()
    assert components.ref(Outer, load=True) == {"$ref": "#/components/schemas/Outer"}
    outer = components.schemas["Outer"]["properties"]
    assert outer["tags"] == {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 3}
    assert outer["inner"] == {"oneOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "null"}],
                              "description": "内层"}
    assert outer["many"] == {"type": "array", "items": {"$ref": "#/components/schemas/Inner"}}
    assert outer["ratio"] == {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
    assert components.schemas["Inner"]["required"] == ["x"]


def test_real_answers_validate_against_the_declared_schemas(app, db, demo):
    from center.cases.models import Case
    from center.cases.queries import cases_query

    doc = _document(app)
    qs = _token(demo, "qs.staff")
    client = app.test_client()
    number = db.session.scalar(cases_query(demo.actor("qs.staff")).with_only_columns(Case.number)
                               .order_by(Case.id).limit(1))
    _assert_valid(doc, "/api/v1/cases/{number}", "get", client.get(f"/api/v1/cases/{number}", headers=qs))
    _assert_valid(doc, "/api/v1/cases/{number}/events", "get",
                  client.get(f"/api/v1/cases/{number}/events", headers=qs))
    _assert_valid(doc, "/api/v1/cases", "get", client.get("/api/v1/cases?limit=100", headers=qs))
    _assert_valid(doc, "/api/v1/openapi.json", "get", client.get("/api/v1/openapi.json"))
    body = {"origin_unit_id": demo.unit("青石村").id, "kind": "dispute", "category": "邻里纠纷", "channel": "visit",
            "summary": "两户因院墙滴水发生争执", "occurred_on": "2025-05-01",
            "parties": [{"name": "申请人甲", "phone": "13901010000", "address": "青石村一组"},
                        {"role": "respondent", "name": "被申请人乙"}]}
    created = client.post("/api/v1/cases", json=body, headers=qs)
    _assert_valid(doc, "/api/v1/cases", "post", created)
    new = created.get_json()["number"]
    moved = client.post(f"/api/v1/cases/{new}/transitions", json={"action": "accept"}, headers=qs)
    _assert_valid(doc, "/api/v1/cases/{number}/transitions", "post", moved)


@pytest.mark.parametrize(("method", "path", "url", "kwargs", "status"), [
    ("get", "/api/v1/cases/{number}", "/api/v1/cases/SF-2026-999999", {}, 404),
    ("get", "/api/v1/cases", "/api/v1/cases?limit=0", {}, 422),
    ("post", "/api/v1/cases", "/api/v1/cases", {"json": {"kind": "x"}}, 422),
    ("post", "/api/v1/cases", "/api/v1/cases", {"data": b"x", "content_type": "text/plain"}, 400),
    ("get", "/api/v1/cases", "/api/v1/cases", {"anonymous": True}, 401),
    ("post", "/api/v1/cases/{number}/transitions", "/api/v1/cases/SF-2026-999999/transitions",
     {"json": {"action": "accept"}}, 404),
])
def test_error_answers_validate_against_the_error_schema(app, db, demo, method, path, url, kwargs, status):
    doc = _document(app)
    headers = {} if kwargs.pop("anonymous", False) else _token(demo, "qs.staff")
    response = app.test_client().open(url, method=method.upper(), headers=headers, **kwargs)
    assert response.status_code == status
    _assert_valid(doc, path, method, response)


def test_a_403_answer_validates_too(app, db, demo):
    from center.cases.models import Case

    doc = _document(app)
    number = db.session.scalar(select(Case.number).order_by(Case.id).limit(1))
    response = app.test_client().get(f"/api/v1/cases/{number}", headers=_token(demo, "auditor"))
    assert response.status_code == 403
    _assert_valid(doc, "/api/v1/cases/{number}", "get", response)
