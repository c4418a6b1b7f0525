"""Form schemas for the org tree."""

from __future__ import annotations

from core.org.models import DepartmentKind, UnitKind
from core.schemas import BaseSchema, fields, length, one_of, regexp


class UnitCreateArgs(BaseSchema):
    kind = fields.String(required=True, validate=one_of([k.value for k in UnitKind if k != UnitKind.district]))
    code = fields.String(required=True, validate=regexp(r"^[0-9A-Za-z\-]{1,32}$",
                                                        "代码只能由数字、字母和连字符组成，最长 32 位"))
    name = fields.String(required=True, validate=length(min=1, max=100))
    center_name = fields.String(load_default=None, validate=length(max=100))


class UnitUpdateArgs(BaseSchema):
    code = fields.String(required=True, validate=regexp(r"^[0-9A-Za-z\-]{1,32}$",
                                                        "代码只能由数字、字母和连字符组成，最长 32 位"))
    name = fields.String(required=True, validate=length(min=1, max=100))
    center_name = fields.String(load_default=None, validate=length(max=100))
    case_prefix = fields.String(load_default=None, validate=regexp(r"^[A-Z]{2,8}$", "编号前缀须为 2–8 位大写字母"))


class DepartmentArgs(BaseSchema):
    name = fields.String(required=True, validate=length(min=1, max=100))
    kind = fields.String(required=True, validate=one_of([k.value for k in DepartmentKind]))
    unit_id = fields.Integer(required=True, strict=False)
    duty = fields.String(load_default=None, validate=length(max=200))
    phone = fields.String(load_default=None, validate=regexp(r"^[0-9\-+ ]{5,20}$", "请填写有效的电话号码"))
