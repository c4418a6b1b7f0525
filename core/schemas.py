"""Marshmallow base for every form and API schema: Chinese messages only, unknown fields rejected.

Marshmallow's defaults are English; a clerk must never see "Missing data for required field.". The
defaults are replaced here once, for every field class the project uses, and validators below carry
Chinese messages. The bad-input test fails on any English default that slips through.
"""

from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from core.security import BAD_TEXT_MESSAGE, has_bad_text

_CN = {
    fields.Field: {"required": "此项为必填项", "null": "此项不能为空", "validator_failed": "填写的内容无效"},
    fields.String: {"invalid": "请填写文字", "invalid_utf8": "文字编码无效"},
    fields.Integer: {"invalid": "请填写整数"},
    fields.Number: {"invalid": "请填写数字", "too_large": "数字过大"},
    fields.Float: {"special": "请填写有效数字"},
    fields.Decimal: {"special": "请填写有效数字"},
    fields.Boolean: {"invalid": "请选择是或否"},
    fields.Date: {"invalid": "请填写有效日期（如 2026-11-23）", "format": "日期格式无效"},
    fields.DateTime: {"invalid": "请填写有效时间", "invalid_awareness": "请填写有效时间", "format": "时间格式无效"},
    fields.Time: {"invalid": "请填写有效时间（如 09:30）", "format": "时间格式无效"},
    fields.List: {"invalid": "请填写列表"},
    fields.Nested: {"type": "格式无效"},
    fields.Dict: {"invalid": "格式无效"},
    fields.Email: {"invalid": "请填写有效的电子邮箱"},
}
for _cls, _msgs in _CN.items():
    _cls.default_error_messages = {**getattr(_cls, "default_error_messages", {}), **_msgs}


class BaseSchema(Schema):
    """Load schemas (``*Args``): strip strings, treat empty optional fields as missing, reject unknown, refuse
    control characters and lone surrogates (the request edge, core.security, refuses them first; this holds
    for data that reaches a schema another way)."""

    class Meta:
        unknown = RAISE

    error_messages = {"type": "提交的数据格式无效", "unknown": "不允许提交此字段"}

    @pre_load
    def _clean(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        out = {}
        bad = {key: [BAD_TEXT_MESSAGE] for key, value in data.items()
               if (isinstance(value, str) and has_bad_text(value))
               or (isinstance(value, list) and any(isinstance(v, str) and has_bad_text(v) for v in value))}
        if bad:
            raise ValidationError(bad)
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                field = self.fields.get(key)
                if value == "" and field is not None:
                    continue  # empty means "not given": required fields then say 此项为必填项
            out[key] = value
        return out


class EmptyArgs(BaseSchema):
    """Buttons that post nothing but the CSRF token."""


def length(min: int | None = None, max: int | None = None):  # noqa: A002 - marshmallow's names
    if min and max:
        msg = f"长度应为 {min}–{max} 个字符"
    elif max:
        msg = f"不能超过 {max} 个字符"
    else:
        msg = f"至少 {min} 个字符"
    return validate.Length(min=min, max=max, error=msg)


def one_of(choices, labels=None):
    return validate.OneOf(list(choices), error="请从列表中选择")


def regexp(pattern: str, message: str):
    return validate.Regexp(re.compile(pattern), error=message)


def number_range(min=None, max=None):  # noqa: A002
    return validate.Range(min=min, max=max, error=f"应在 {min}–{max} 之间")


__all__ = ["BaseSchema", "fields", "ValidationError", "length", "one_of", "regexp", "number_range"]
