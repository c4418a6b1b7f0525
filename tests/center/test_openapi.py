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
    for path, item in doc["paths"].items():  # the request edge may refuse any request (core.security)
        for operation in item.values():
            assert "400" in operation["responses"], path


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
    legal = doc["components"]["schemas"]["TransitionArgs.guide_to_legal"]["properties"]["legal_channel"]
    assert legal["enum"] == ["arbitration", "litigation", "reconsideration"] and legal["type"] == "string"
    assert "guide_to_legal" in legal["description"]


#: (subject of tests.center.authority_spec, who performs it) where each action that requires a field is allowed.
ACTION_SUBJECTS = {"hand_down": ("D.p.registered", "center.li"), "transfer": ("D.p.registered", "center.li"),
                   "not_accept": ("D.p.registered", "center.li"), "guide_to_legal": ("D.p.registered", "center.li"),
                   "return": ("X.p.handed_down", "renshe.liaison"),
                   "refer_mediation": ("X.p.accepted", "renshe.liaison")}


def test_transitions_are_described_per_action(app, db):
    from center.cases.lifecycle.operations import ACTIONS

    schemas = _document(app)["components"]["schemas"]
    union = schemas["TransitionArgs"]
    assert union["discriminator"]["propertyName"] == "action"
    assert set(union["discriminator"]["mapping"]) == ACTIONS
    assert [ref["$ref"] for ref in union["oneOf"]] == [union["discriminator"]["mapping"][a] for a in sorted(ACTIONS)]
    required = {}
    for action in ACTIONS:
        variant = schemas[f"TransitionArgs.{action}"]
        assert variant["additionalProperties"] is False
        assert variant["properties"]["action"] == {"type": "string", "const": action}
        required[action] = set(variant["required"]) - {"action"}
        assert "note" in variant["properties"]
    assert {a: r for a, r in required.items() if r} == {
        "hand_down": {"unit_id"}, "transfer": {"department_id"}, "not_accept": {"note"}, "return": {"note"},
        "guide_to_legal": {"legal_channel"}, "refer_mediation": {"consent"}}
    assert set(schemas["TransitionArgs.escalate"]["properties"]) == {"action", "note", "unit_id"}
    assert set(schemas["TransitionArgs.accept"]["properties"]) == {"action", "note"}
    consent = schemas["TransitionArgs.refer_mediation"]["properties"]["consent"]
    assert consent["minItems"] == consent["maxItems"] == 2 and consent["uniqueItems"] is True
    note = schemas["TransitionArgs.not_accept"]["properties"]["note"]
    assert note["type"] == "string" and note["minLength"] == 1 and note["maxLength"] == 2000


@pytest.mark.parametrize("action", sorted(ACTION_SUBJECTS))
def test_each_action_requires_what_the_transition_refuses_without(app, db, demo, action):
    """What the document requires of an action is what center.cases.lifecycle.operations.transition refuses without (a
    field error under that name), where the action is otherwise allowed: the complete request goes through."""
    from center.cases.lifecycle.operations import transition
    from center.cases.models import Case
    from core.errors import ValidationFailed
    from core.org.models import Department, OrgUnit
    from tests.center.authority_spec import _transition_inputs, build

    variant = _document(app)["components"]["schemas"][f"TransitionArgs.{action}"]
    key, username = ACTION_SUBJECTS[action]
    subject = build(demo, key)
    inputs = _transition_inputs(demo, subject, action)
    assert set(variant["required"]) - {"action"} <= set(inputs) | {"consent"}

    def perform(**given):
        case = db.session.get(Case, subject.case.id)
        kw = {"note": given.get("note"), "legal_channel": given.get("legal_channel"),
              "consent": frozenset(given.get("consent") or ()),
              "unit": db.session.get(OrgUnit, given["unit_id"]) if given.get("unit_id") else None,
              "department": db.session.get(Department, given["department_id"]) if given.get("department_id")
              else None}
        return transition(case, action, actor=demo.actor(username), **kw)

    for name in set(variant["required"]) - {"action"}:
        for missing in ({k: v for k, v in inputs.items() if k != name}, {**inputs, name: None}):
            with pytest.raises(ValidationFailed) as refused:
                perform(**missing)
            assert name in refused.value.errors, (action, name, refused.value.errors)
            db.session.rollback()
    assert perform(**inputs).action == action


def test_the_api_takes_values_as_json_schema_reads_them(app, db, demo):
    """Integral floats are integers; an empty choice is refused, not read as "not chosen"; a field the action
    does not take is refused even when null; a date is an RFC 3339 full-date."""
    from center.cases.models import Case
    from center.cases.queries import cases_query

    qs = _token(demo, "qs.staff")
    client = app.test_client()
    listing = client.get("/api/v1/cases?limit=5&offset=0", headers=qs)
    assert listing.status_code == 200 and listing.get_json()["limit"] == 5
    for query in ("status=", "kind=", "limit=", "limit=%2B5", "limit=1_0", "limit=%EF%BC%93", "limit=3.0"):
        response = client.get(f"/api/v1/cases?{query}", headers=qs)
        assert response.status_code == 422, query
    body = {"origin_unit_id": float(demo.unit("青石村").id), "kind": "dispute", "category": "邻里纠纷",
            "channel": "visit", "summary": "两户因院墙滴水发生争执", "people_count": 2.0,
            "parties": [{"name": "申请人丙"}]}
    created = client.post("/api/v1/cases", json=body, headers=qs)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["people_count"] == 2
    for extra, field in (({"people_count": 2.5}, "people_count"), ({"petition_class": ""}, "petition_class"),
                         ({"risk_colour": " red"}, "risk_colour"), ({"occurred_on": "20250501"}, "occurred_on"),
                         ({"occurred_on": ""}, "occurred_on"), ({"summary": "x" * 4000 + " "}, "summary")):
        response = client.post("/api/v1/cases", json={**body, **extra}, headers=qs)
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"], (extra, response.json)
    number = db.session.scalar(cases_query(demo.actor("qs.staff")).with_only_columns(Case.number)
                               .where(Case.status == "registered").order_by(Case.id).limit(1))
    for body, field in (({"action": "accept", "unit_id": None}, "unit_id"),
                        ({"action": "accept", "consent": []}, "consent"),
                        ({"action": "start", "department_id": None}, "department_id"),
                        ({"action": "accept", "legal_channel": ""}, "legal_channel"),
                        ({"action": ""}, "action"), ({"action": "accept", "note": "x" * 2001}, "note")):
        response = client.post(f"/api/v1/cases/{number}/transitions", json=body, headers=qs)
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"], (body, response.json)
    moved = client.post(f"/api/v1/cases/{number}/transitions", json={"action": "accept", "note": None}, headers=qs)
    assert moved.status_code == 200, moved.get_json()


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
