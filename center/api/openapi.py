"""The OpenAPI 3.1 document of /api/v1, generated from the marshmallow schemas and the routes themselves.

Each API view is described by ``@describe(...)`` (summary, query schema, body schema, answers); the document
walks ``app.url_map`` for the blueprint's rules, so a route cannot exist without appearing in it (a route
without a description makes the generator fail loudly). ``field_schema`` is a small converter from
marshmallow fields to JSON Schema 2020-12 (the dialect of OpenAPI 3.1): types, ``required``, enums from
OneOf, lengths from Length, ranges from Range, patterns from Regexp, nested schemas as components and lists
as arrays. Load schemas reject unknown fields, so their objects say ``additionalProperties: false``; dump
schemas always answer every field, so all their properties are required.

A load schema whose shape depends on one field (a transition: what it takes depends on its ``action``) says
so with ``OPENAPI_DISCRIMINATOR``, ``OPENAPI_COMMON`` and ``OPENAPI_VARIANTS`` ({value: Variant}): it becomes a
``oneOf`` of one object per value of the discriminator (its OneOf choices), with an OpenAPI ``discriminator``.

Every operation may answer 400 (the request edge refuses control characters, lone surrogates and JSON nested
too deep, core.security; a write refuses a body that is no JSON object), and 422 when it reads a body or a
query string.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from marshmallow import Schema, fields, validate

OPENAPI_VERSION = "3.1.0"
BEARER = "bearerAuth"
COOKIE = "cookieAuth"
CSRF = "csrfHeader"
ERROR_STATUSES = {400: "请求格式无效：含控制字符或无效字符、JSON 嵌套过深、请求体不是 JSON 对象，或 CSRF 校验失败", 401: "未登录，或访问令牌无效、已过期、已撤销",
                  403: "没有执行此操作的权限", 404: "不存在或不在管辖范围内", 422: "提交的内容有误（见 fields）或状态不允许此操作",
                  429: "请求过于频繁（每个账户、每个地址限流，见 Retry-After 头）"}


@dataclass(frozen=True)
class Variant:
    """What one value of a discriminated load schema takes beyond the common fields: ``required`` fields (each
    with the JSON Schema keywords its requirement adds, e.g. ``{"minLength": 1}``; never null) and
    ``optional`` ones."""

    required: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)
    optional: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


def describe(*, summary: str, responses: dict[int, tuple[type[Schema], str]], query: type[Schema] | None = None,
             body: type[Schema] | None = None, errors: tuple[int, ...] = (401, 403), public: bool = False,
             description: str | None = None) -> Callable:
    """Attach the OpenAPI description of one view (read by ``build_document``)."""

    def deco(view):
        view.__openapi__ = {"summary": summary, "responses": responses, "query": query, "body": body,
                            "errors": errors, "public": public, "description": description}
        return view

    return deco


# --- marshmallow → JSON Schema ------------------------------------------------------------------------------


def component_name(schema: Schema | type[Schema]) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__


class Components:
    """Collects the component schemas met while converting (nested schemas become $refs)."""

    def __init__(self):
        self.schemas: dict[str, dict] = {}

    def ref(self, schema: Schema | type[Schema], *, load: bool) -> dict:
        name = component_name(schema)
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder first: a schema nesting itself ends here
            cls = schema if isinstance(schema, type) else type(schema)
            self.schemas[name] = (self.variants_schema(cls) if load and hasattr(cls, "OPENAPI_VARIANTS")
                                  else self.object_schema(schema, load=load))
        return {"$ref": f"#/components/schemas/{name}"}

    def object_schema(self, schema: Schema | type[Schema], *, load: bool) -> dict:
        instance = schema() if isinstance(schema, type) else schema
        properties, required = {}, []
        for name, field in instance.fields.items():
            if load and field.dump_only or not load and field.load_only:
                continue
            key = (field.data_key or name)
            properties[key] = self.field_schema(field, load=load)
            if field.required or not load:
                required.append(key)
        out = {"type": "object", "properties": properties, "additionalProperties": False}
        doc = (type(instance).__doc__ or "").strip()
        if doc:
            out["description"] = doc.splitlines()[0]
        if required:
            out["required"] = required
        return out

    def variants_schema(self, cls: type[Schema]) -> dict:
        """``oneOf`` the objects of each value of ``cls.OPENAPI_DISCRIMINATOR``, as components ``Name.value``."""
        instance = cls()
        key = cls.OPENAPI_DISCRIMINATOR
        choices = next(v.choices for v in instance.fields[key].validators if isinstance(v, validate.OneOf))
        refs, mapping = [], {}
        for value in choices:
            variant = cls.OPENAPI_VARIANTS.get(value, Variant())
            properties = {key: {"type": "string", "const": value}}
            required = [key]
            for name in dict.fromkeys((*cls.OPENAPI_COMMON, *variant.fields)):
                f = instance.fields[name]
                if name in variant.required:
                    properties[name] = {**self.field_schema(f, load=True, nullable=False),
                                        **variant.required[name]}
                    properties[name].pop("default", None)
                    required.append(name)
                else:
                    properties[name] = self.field_schema(f, load=True)
            component = f"{cls.__name__}.{value}"
            self.schemas[component] = {"type": "object", "properties": properties, "required": required,
                                       "additionalProperties": False}
            refs.append({"$ref": f"#/components/schemas/{component}"})
            mapping[value] = refs[-1]["$ref"]
        out = {"oneOf": refs, "discriminator": {"propertyName": key, "mapping": mapping}}
        doc = (cls.__doc__ or "").strip()
        if doc:
            out["description"] = doc.splitlines()[0]
        return out

    def field_schema(self, field: fields.Field, *, load: bool, nullable: bool = True) -> dict:
        """``nullable=False`` for query parameters: a query string has no null, only an absent parameter."""
        out = self._type(field, load=load)
        for v in field.validators:
            _apply_validator(out, v)
        description = field.metadata.get("description")
        if field.allow_none and nullable:
            out = _nullable(out)
        if description:
            out = {**out, "description": description} if "$ref" not in out else {
                "allOf": [out], "description": description}
        if load and field.load_default is not None and not callable(field.load_default) \
                and field.load_default is not fields.missing_:
            out["default"] = field.load_default
        return out

    def _type(self, field: fields.Field, *, load: bool) -> dict:
        if isinstance(field, fields.Nested):
            ref = self.ref(field.nested if not callable(field.nested) or isinstance(field.nested, type)
                           else field.nested(), load=load)
            return {"type": "array", "items": ref} if field.many else ref
        if isinstance(field, fields.List):
            return {"type": "array", "items": self.field_schema(field.inner, load=load)}
        if isinstance(field, fields.Dict):
            out = {"type": "object"}
            if field.value_field is not None:
                out["additionalProperties"] = self.field_schema(field.value_field, load=load)
            return out
        for cls, spec in TYPES:
            if isinstance(field, cls):
                return dict(spec)
        return {}


#: Most specific first (DateTime before String is irrelevant, but Integer before Number matters).
TYPES: tuple[tuple[type, dict], ...] = (
    (fields.Boolean, {"type": "boolean"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Number, {"type": "number"}),
    (fields.DateTime, {"type": "string", "format": "date-time"}),
    (fields.Date, {"type": "string", "format": "date"}),
    (fields.Time, {"type": "string", "format": "time"}),
    (fields.Email, {"type": "string", "format": "email"}),
    (fields.String, {"type": "string"}),
)


def _apply_validator(out: dict, v) -> None:
    if isinstance(v, validate.OneOf):
        out["enum"] = list(v.choices)
    elif isinstance(v, validate.Length):
        lo, hi = ("minItems", "maxItems") if out.get("type") == "array" else ("minLength", "maxLength")
        if v.equal is not None:
            out[lo] = out[hi] = v.equal
        if v.min is not None:
            out[lo] = v.min
        if v.max is not None:
            out[hi] = v.max
    elif isinstance(v, validate.Range):
        if v.min is not None:
            out["minimum" if v.min_inclusive else "exclusiveMinimum"] = v.min
        if v.max is not None:
            out["maximum" if v.max_inclusive else "exclusiveMaximum"] = v.max
    elif isinstance(v, validate.Regexp):
        out["pattern"] = v.regex.pattern


def _nullable(out: dict) -> dict:
    if "$ref" in out:
        return {"oneOf": [out, {"type": "null"}]}
    out = dict(out)
    if "type" in out:
        out["type"] = [out["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


# --- the document -------------------------------------------------------------------------------------------


PARAM_RE = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def openapi_path(rule: str) -> str:
    """Flask's ``/api/v1/cases/<number>`` → OpenAPI's ``/api/v1/cases/{number}``."""
    return PARAM_RE.sub(r"{\1}", rule)


def _security(method: str, public: bool) -> list[dict]:
    if public:
        return []
    if method == "get":
        return [{BEARER: []}, {COOKIE: []}]
    return [{BEARER: []}, {COOKIE: [], CSRF: []}]


def _operation(rule, method: str, view, components: Components, error_ref: dict) -> dict:
    spec = view.__openapi__
    op = {"operationId": rule.endpoint.split(".", 1)[1] + ("" if method == "get" else f"_{method}"),
          "summary": spec["summary"], "tags": ["cases"] if "cases" in rule.rule else ["meta"],
          "security": _security(method, spec["public"])}
    if spec["description"]:
        op["description"] = spec["description"]
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": NUMBER_PATTERN} if name == "number" else {"type": "string"}}
                  for name in PARAM_RE.findall(rule.rule)]
    if spec["query"] is not None and method == "get":
        for name, field in spec["query"]().fields.items():
            parameters.append({"name": field.data_key or name, "in": "query", "required": bool(field.required),
                               "schema": components.field_schema(field, load=True, nullable=False)})
    if parameters:
        op["parameters"] = parameters
    if spec["body"] is not None and method != "get":
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": components.ref(spec["body"], load=True)}}}
    responses = {}
    for status, (schema, text) in spec["responses"].items():
        responses[str(status)] = {"description": text, "content": {"application/json": {
            "schema": components.ref(schema, load=False)}}}
    errors = set(spec["errors"]) if not spec["public"] else set()
    if spec["body"] is not None or spec["query"] is not None:
        errors.add(422)
    errors.add(400)  # the request edge (core.security) and, for a write, a body that is no JSON object
    errors.add(429)  # every API request counts against its account's (or address's) limit (core.ratelimit)
    for status in sorted(errors):
        responses[str(status)] = {"description": ERROR_STATUSES[status],
                                  "content": {"application/json": {"schema": error_ref}}}
    op["responses"] = responses
    return op


#: The case number in a URL (center.cases.intake.numbering.NUMBER_RE, written for JSON Schema).
NUMBER_PATTERN = r"^[A-Z0-9]{1,8}-[0-9]{4}-[0-9]{6}$"


def build_document(app, blueprint: str = "api") -> dict:
    from center.api.schemas import ErrorSchema

    components = Components()
    error_ref = components.ref(ErrorSchema, load=False)
    paths: dict[str, dict] = {}
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint.startswith(blueprint + ".")),
                   key=lambda r: r.rule)
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "__openapi__"):
            raise LookupError(f"API route {rule.rule} ({rule.endpoint}) has no @describe(...)")
        item = paths.setdefault(openapi_path(rule.rule), {})
        for method in sorted(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}):
            item[method] = _operation(rule, method, view, components, error_ref)
    session_cookie = app.config.get("SESSION_COOKIE_NAME", "session")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "矛调通 API", "version": "1",
                 "description": "案件登记、查询、流转与时间线。与网页相同的管辖范围：管辖范围外的事项一律 404。"
                                "认证：管理员签发的访问令牌（Authorization: Bearer），或网页登录会话（Cookie），"
                                "此时非 GET 请求须在 X-CSRFToken 头中携带页面的 CSRF 令牌。"
                                "个人信息（证件号码、电话、地址）一律脱敏。时间为 ISO 8601，北京时间（+08:00）。"},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer", "description": "管理员签发的访问令牌（mdt_…）"},
                COOKIE: {"type": "apiKey", "in": "cookie", "name": session_cookie, "description": "网页登录会话"},
                CSRF: {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                       "description": "使用会话 Cookie 时，非 GET 请求须携带页面的 CSRF 令牌"},
            },
        },
    }
