"""Form schemas for accounts (load-only ``*Args``)."""

from __future__ import annotations

from core.accounts.models import Role
from core.schemas import BaseSchema, fields, length, number_range, one_of, regexp


class LoginArgs(BaseSchema):
    username = fields.String(required=True, validate=length(max=64))
    password = fields.String(required=True, validate=length(max=256))
    next = fields.String(load_default=None, validate=length(max=512))


class ChangePasswordArgs(BaseSchema):
    current_password = fields.String(required=True, validate=length(max=256))
    new_password = fields.String(required=True, validate=length(max=256))
    confirm_password = fields.String(required=True, validate=length(max=256))


USERNAME = regexp(r"^[A-Za-z0-9_.\-]{3,64}$", "用户名须为 3–64 位字母、数字、下划线、点或连字符")


class UserCreateArgs(BaseSchema):
    username = fields.String(required=True, validate=USERNAME)
    display_name = fields.String(required=True, validate=length(min=1, max=64))
    title = fields.String(load_default=None, validate=length(max=64))
    password = fields.String(required=True, validate=length(max=256))
    role = fields.String(required=True, validate=one_of([r.value for r in Role]))
    unit_code = fields.String(load_default=None, validate=length(max=32))
    department_id = fields.Integer(load_default=None, strict=False)


class UserUpdateArgs(BaseSchema):
    display_name = fields.String(required=True, validate=length(min=1, max=64))
    title = fields.String(load_default=None, validate=length(max=64))


class MembershipArgs(BaseSchema):
    role = fields.String(required=True, validate=one_of([r.value for r in Role]))
    unit_code = fields.String(load_default=None, validate=length(max=32))
    department_id = fields.Integer(load_default=None, strict=False)


class ResetPasswordArgs(BaseSchema):
    password = fields.String(required=True, validate=length(max=256))


class UnlockArgs(BaseSchema):
    username = fields.String(required=True, validate=length(min=1, max=64))


class PolicyArgs(BaseSchema):
    min_length = fields.Integer(required=True, validate=number_range(8, 64))
    min_classes = fields.Integer(required=True, validate=number_range(3, 4))
    rotation_days = fields.Integer(required=True, validate=number_range(1, 365))
    lockout_threshold = fields.Integer(required=True, validate=number_range(3, 10))
    lockout_minutes = fields.Integer(required=True, validate=number_range(5, 1440))
    idle_minutes = fields.Integer(required=True, validate=number_range(5, 30))
    absolute_hours = fields.Integer(required=True, validate=number_range(1, 12))
