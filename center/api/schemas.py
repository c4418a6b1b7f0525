"""Schemas of the JSON API: load schemas (``*Args``, strict, unknown fields refused in Chinese) apart from dump
schemas (``*Schema``, what the API answers). The OpenAPI document is generated from these classes
(center.api.openapi), so a field added here is documented at once.

Dump schemas are fed plain dicts built by ``center.api.present``: personal data is masked there, never here.
"""

from __future__ import annotations

import re

from marshmallow import Schema, pre_load, validate, validates_schema

from center.api.openapi import Variant
from center.cases.intake.identity import IdType
from center.cases.intake.schemas import LEGAL_CHANNELS, REPEAT_PATTERN
from center.cases.lifecycle.operations import ACTIONS, NOTE_MAX
from center.cases.models import (
    CaseChannel,
    CaseKind,
    CaseStatus,
    PartyKind,
    PartyRole,
    PetitionClass,
    RiskColour,
)
from core.schemas import BaseSchema, ValidationError, fields, length, number_range, one_of, regexp
from core.security import BAD_TEXT_MESSAGE, has_bad_text
from core.timefmt import SHANGHAI

LIST_LIMIT_MAX = 100
TEXT_MAX = 4000
REF_MAX = 64


def _values(enum_cls) -> list[str]:
    return [e.value for e in enum_cls]


class ShanghaiDateTime(fields.DateTime):
    """Always answered as ISO 8601 in Asia/Shanghai, e.g. 2026-11-23T09:30:00+08:00."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _not_future(day) -> bool:
    from center.cases.presenters import today_shanghai

    if day > today_shanghai():
        raise ValidationError("事发日期不能晚于今天")
    return True


# --- the API's own fields: a value is taken as JSON Schema reads it ------------------------------------------


class JsonInteger(fields.Integer):
    """A JSON integer: 3 and 3.0 alike (JSON Schema's ``integer`` is any number with a zero fractional part);
    never a string, a boolean or 3.5."""

    def __init__(self, **kw):
        super().__init__(strict=True, **kw)

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class QueryInteger(fields.Integer):
    """An integer in a query string, written as JSON writes it (``20``, ``-1``): not ``+5``, ``1_0``, `` 3``
    or other digits than 0–9, all of which Python's int() would take."""

    PATTERN = re.compile(r"-?(?:0|[1-9][0-9]*)")

    def _validated(self, value):
        if isinstance(value, str) and not self.PATTERN.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JsonDate(fields.Date):
    """A full-date of RFC 3339 (JSON Schema's ``format: date``), e.g. 2026-11-23: not the other ISO 8601 forms
    Python's date.fromisoformat takes (20261123, 2026-W47-1)."""

    PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not self.PATTERN.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


def _id(**kw):
    return JsonInteger(validate=number_range(1, 2**31 - 1), **kw)


def _is_free_text(field) -> bool:
    return isinstance(field, fields.String) and not any(
        isinstance(v, validate.OneOf | validate.Regexp) for v in field.validators)


class ApiArgs(BaseSchema):
    """Base of the API's load schemas: a value is judged as sent, the way the OpenAPI document describes it.

    Unlike a form (core.schemas.BaseSchema), a choice, a pattern, a number or a date is never trimmed, and an
    empty one is refused rather than read as "not chosen". Free text is checked against its maximum length as
    sent, then trimmed; empty free text is "not given" (a required field then says 此项为必填项)."""

    @pre_load
    def _clean(self, data, **kwargs):  # replaces BaseSchema._clean
        if not isinstance(data, dict):
            return data
        errors: dict[str, list[str]] = {}
        out = {}
        for key, value in data.items():
            if (isinstance(value, str) and has_bad_text(value)) or (
                    isinstance(value, list) and any(isinstance(v, str) and has_bad_text(v) for v in value)):
                errors[key] = [BAD_TEXT_MESSAGE]
                continue
            field = self.fields.get(key)
            if isinstance(value, str) and field is not None and _is_free_text(field):
                for v in field.validators:
                    if isinstance(v, validate.Length) and v.max is not None and len(value) > v.max:
                        errors[key] = [v.error or f"不能超过 {v.max} 个字符"]
                value = value.strip()
                if value == "":
                    continue
            out[key] = value
        if errors:
            raise ValidationError(errors)
        return out


# --- load schemas ---------------------------------------------------------------------------------------------


class PartyArgs(ApiArgs):
    role = fields.String(load_default="applicant", validate=one_of(_values(PartyRole)),
                         metadata={"description": "applicant 申请人 / respondent 被申请人"})
    kind = fields.String(load_default="person", validate=one_of(_values(PartyKind)),
                         metadata={"description": "person 个人 / organisation 单位"})
    name = fields.String(required=True, validate=length(1, 100))
    id_type = fields.String(load_default=None, validate=one_of(_values(IdType)))
    id_number = fields.String(load_default=None, validate=length(max=32),
                              metadata={"description": "个人填证件号码（居民身份证核对校验位），单位填统一社会信用代码"})
    phone = fields.String(load_default=None, validate=length(max=32))
    address = fields.String(load_default=None, validate=length(max=200))


class CaseArgs(ApiArgs):
    """Intake (center.cases.intake.operations.register_case); field errors come back under these names."""

    origin_unit_id = _id(required=True, metadata={"description": "来源单位：本人可登记的单位（乡镇、区县工作人员不能"
                                                                 "直接在网格登记）"})
    handling_unit_id = _id(load_default=None, metadata={"description": "办理单位；缺省按事项类型自动确定。填写时须在本人"
                                                                      "管辖范围内或为来源单位的上级单位"})
    accused_unit_id = _id(load_default=None, metadata={"description": "被检举控告单位（仅检举控告类）"})
    kind = fields.String(required=True, validate=one_of(_values(CaseKind)))
    petition_class = fields.String(load_default=None, validate=one_of(_values(PetitionClass)),
                                   metadata={"description": "信访事项必填；矛盾纠纷不填"})
    category = fields.String(required=True, validate=length(1, 32))
    channel = fields.String(required=True, validate=one_of(_values(CaseChannel)))
    summary = fields.String(required=True, validate=length(1, TEXT_MAX))
    demands = fields.String(load_default=None, validate=length(max=TEXT_MAX))
    people_count = JsonInteger(load_default=1, validate=number_range(1, 100000))
    risk_colour = fields.String(load_default="yellow", validate=one_of(_values(RiskColour)))
    occurred_on = JsonDate(load_default=None, validate=lambda day: _not_future(day),
                              metadata={"description": "事发日期，不能晚于今天"})
    parties = fields.List(fields.Nested(PartyArgs), required=True,
                          validate=validate.Length(min=1, max=50, error="当事人应为 1–50 人"))
    xinfang_no = fields.String(load_default=None, validate=length(max=REF_MAX))
    hotline_ticket = fields.String(load_default=None, validate=length(max=REF_MAX))
    court_case_no = fields.String(load_default=None, validate=length(max=REF_MAX))
    intake_key = fields.String(load_default=None, validate=regexp(r"^[A-Za-z0-9_-]{8,64}$",
                                                                  "登记幂等键须为 8–64 位字母、数字、下划线或连字符"),
                               metadata={"description": "幂等键：同一键再次提交时返回已登记的事项"})
    repeat_of = fields.String(load_default=None, validate=regexp(REPEAT_PATTERN, "repeat_of 须为所重复的事项编号或 none"),
                              metadata={"description": "对可能重复件的答复：所重复的事项编号（关联为重复件），或 none"
                                                       "（不是重复件）。不填而发现可能的重复件时返回 422，"
                                                       "fields.repeat_of 列出其编号"})


class CaseListArgs(ApiArgs):
    """Query string of GET /api/v1/cases."""

    status = fields.String(load_default=None, validate=one_of(_values(CaseStatus)))
    kind = fields.String(load_default=None, validate=one_of(_values(CaseKind)))
    q = fields.String(load_default=None, validate=length(max=64),
                      metadata={"description": "事项编号、短号或概要中的文字；身份证号、手机号、"
                                               "姓名请用 POST /api/v1/cases/search（不放在网址中）"})
    limit = QueryInteger(load_default=20, validate=number_range(1, LIST_LIMIT_MAX))
    offset = QueryInteger(load_default=0, validate=number_range(0, 1_000_000))


class CaseSearchArgs(ApiArgs):
    """Body of POST /api/v1/cases/search: what the clerk holds is sent in the body, never in a URL."""

    q = fields.String(required=True, validate=length(min=1, max=64),
                      metadata={"description": "完整身份证号、手机号（精确匹配）、短号（如 000123）、"
                                               "当事人姓名或概要中的文字"})
    status = fields.String(load_default=None, validate=one_of(_values(CaseStatus)))
    kind = fields.String(load_default=None, validate=one_of(_values(CaseKind)))
    limit = JsonInteger(load_default=20, validate=number_range(1, LIST_LIMIT_MAX))
    offset = JsonInteger(load_default=0, validate=number_range(0, 1_000_000))


#: The parties whose consent 访调对接 needs (center.cases.lifecycle.operations._check_consent): both.
CONSENT_PARTIES = ("applicant", "respondent")


class TransitionArgs(ApiArgs):
    """A transition: ``action`` and an optional ``note``, plus what that action takes (``BY_ACTION``)."""

    action = fields.String(required=True, validate=one_of(sorted(ACTIONS)))
    note = fields.String(load_default=None, validate=length(max=NOTE_MAX),
                         metadata={"description": "说明；不予受理（not_accept）、退回（return）须写明理由"})
    unit_id = _id(load_default=None, metadata={"description": "交办（hand_down，必填）、上报（escalate，缺省为上级单位）"
                                                             "的目标单位"})
    legal_channel = fields.String(load_default=None, validate=one_of(sorted(LEGAL_CHANNELS)),
                                  metadata={"description": "导入法定程序（guide_to_legal）必填：litigation 诉讼 / "
                                                           "arbitration 仲裁 / reconsideration 行政复议"})
    department_id = _id(load_default=None, metadata={"description": "转送（transfer）：有权处理的部门"})
    consent = fields.List(fields.String(validate=one_of(list(CONSENT_PARTIES))), load_default=list,
                          validate=validate.Length(max=2, error="最多两项"),
                          metadata={"description": "访调对接（refer_mediation）：已记录同意的当事人，须为双方"})

    #: The OpenAPI document describes one object per action (oneOf, discriminated by ``action``): the fields
    #: every action takes, and per action what else it takes, required where center.cases.lifecycle.operations.transition
    #: refuses without it. The loader refuses a field the action does not take (even null), so the document is
    #: exact both ways.
    OPENAPI_DISCRIMINATOR = "action"
    OPENAPI_COMMON = ("note",)
    OPENAPI_VARIANTS = {
        "hand_down": Variant(required={"unit_id": {}}),
        "escalate": Variant(optional=("unit_id",)),
        "transfer": Variant(required={"department_id": {}}),
        "guide_to_legal": Variant(required={"legal_channel": {}}),
        "refer_mediation": Variant(required={"consent": {"minItems": len(CONSENT_PARTIES), "uniqueItems": True}}),
        "not_accept": Variant(required={"note": {"minLength": 1}}),
        "return": Variant(required={"note": {"minLength": 1}}),
    }

    @validates_schema(pass_original=True)
    def _fields_of_the_action(self, data, original_data, **kwargs):
        taken = {"action", *self.OPENAPI_COMMON, *self.OPENAPI_VARIANTS.get(data["action"], Variant()).fields}
        extra = sorted(key for key in original_data if key in self.fields and key not in taken)
        if extra:
            raise ValidationError({key: ["此操作不需要填写此项"] for key in extra})


# --- dump schemas ---------------------------------------------------------------------------------------------


class UnitRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PartySchema(Schema):
    role = fields.String(validate=validate.OneOf(_values(PartyRole)))
    kind = fields.String(validate=validate.OneOf(_values(PartyKind)))
    name = fields.String()
    id_type = fields.String(allow_none=True, validate=validate.OneOf(_values(IdType)))
    id_number = fields.String(allow_none=True, metadata={"description": "已脱敏"})
    phone = fields.String(allow_none=True, metadata={"description": "已脱敏"})
    address = fields.String(allow_none=True, metadata={"description": "已脱敏"})


class NextDeadlineSchema(Schema):
    rule = fields.String()
    label = fields.String()
    due_on = fields.Date()
    days_left = fields.Integer()
    colour = fields.String(validate=validate.OneOf(["green", "yellow", "red"]))
    provisional = fields.Boolean(metadata={"description": "暂定：该年节假日安排尚未公布"})


class DeadlineSchema(NextDeadlineSchema):
    started_on = fields.Date()
    met_at = ShanghaiDateTime(allow_none=True)
    supervision_level = fields.Integer(metadata={"description": "已发出的督办级别（0–3）"})
    kind = fields.String(validate=validate.OneOf(["duty", "window"]),
                         metadata={"description": "duty 办理期限（督办、计超期）；window 信访人申请期限（不督办、不计超期）"})
    responsible = fields.String(allow_none=True, metadata={"description": "责任单位或部门（申请期限为空）"})
    ended_by = fields.String(allow_none=True, metadata={"description": "结束该期限的行为，如 notice_issued、moved"})
    late = fields.Boolean(metadata={"description": "该期限是否计为责任单位超期"})


class CaseSummarySchema(Schema):
    number = fields.String()
    kind = fields.String(validate=validate.OneOf(_values(CaseKind)))
    petition_class = fields.String(allow_none=True, validate=validate.OneOf(_values(PetitionClass)))
    status = fields.String(validate=validate.OneOf(_values(CaseStatus)))
    status_label = fields.String()
    category = fields.String()
    summary = fields.String()
    risk_colour = fields.String(validate=validate.OneOf(_values(RiskColour)))
    received_at = ShanghaiDateTime()
    handling_unit = fields.Nested(UnitRefSchema)
    next_deadline = fields.Nested(NextDeadlineSchema, allow_none=True)


class CaseSchema(CaseSummarySchema):
    channel = fields.String(validate=validate.OneOf(_values(CaseChannel)))
    demands = fields.String(allow_none=True)
    people_count = fields.Integer()
    is_collective = fields.Boolean(metadata={"description": "集体访（5 人及以上）"})
    occurred_on = fields.Date(allow_none=True)
    origin_unit = fields.Nested(UnitRefSchema)
    accused_unit = fields.Nested(UnitRefSchema, allow_none=True)
    repeat_of = fields.String(allow_none=True, metadata={"description": "所重复的事项编号"})
    xinfang_no = fields.String(allow_none=True)
    hotline_ticket = fields.String(allow_none=True)
    court_case_no = fields.String(allow_none=True)
    intake_key = fields.String(allow_none=True)
    parties = fields.List(fields.Nested(PartySchema))
    deadlines = fields.List(fields.Nested(DeadlineSchema))
    allowed_actions = fields.List(fields.String(), metadata={"description": "当前状态下状态机允许的操作"})


class CaseListSchema(Schema):
    items = fields.List(fields.Nested(CaseSummarySchema))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class EventSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    action_label = fields.String()
    actor = fields.String(allow_none=True, metadata={"description": "操作人姓名；系统操作为空"})
    at = ShanghaiDateTime()
    from_status = fields.String(allow_none=True, validate=validate.OneOf(_values(CaseStatus)))
    to_status = fields.String(allow_none=True, validate=validate.OneOf(_values(CaseStatus)))
    note = fields.String(allow_none=True)


class EventListSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))


class ErrorBodySchema(Schema):
    code = fields.String(metadata={"description": "机器可读的错误代码"})
    message = fields.String(metadata={"description": "中文说明"})
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                          metadata={"description": "字段 → 中文错误提示"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema)


class OpenApiDocumentSchema(Schema):
    """This document (OpenAPI 3.1)."""

    openapi = fields.String()
    info = fields.Dict()
    paths = fields.Dict()
    components = fields.Dict()
