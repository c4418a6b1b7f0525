"""Form schemas for accounts (load-only ``*Args``)."""

from __future__ import annotations

from marshmallow import pre_load

from core.accounts.models import AccountKind, AdminActKind, Role
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
    #: a person's initial password (required for people, refused for service accounts: the operation decides)
    password = fields.String(load_default=None, validate=length(max=256))
    kind = fields.String(load_default=AccountKind.person.value, validate=one_of([k.value for k in AccountKind]))
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
    # optional, so a form or API client that predates it keeps the stored value
    password_history = fields.Integer(validate=number_range(1, 24))


class DecisionNoteArgs(BaseSchema):
    """Refusing a proposed membership, rejecting a request: the reason is required."""

    note = fields.String(required=True, validate=length(1, 200))


class ApproveArgs(BaseSchema):
    note = fields.String(load_default=None, validate=length(max=200))


class AdminRequestArgs(BaseSchema):
    kind = fields.String(required=True, validate=one_of([k.value for k in AdminActKind if k != AdminActKind.unlock]))
    username = fields.String(required=True, validate=length(1, 64))
    reason = fields.String(required=True, validate=length(1, 200))
    #: reset_password only: the new password the requester hands to the administrator in person
    password = fields.String(load_default=None, validate=length(max=256))
    #: end_membership only
    membership_id = fields.Integer(load_default=None, strict=False)


class OwnTokenArgs(BaseSchema):
    label = fields.String(required=True, validate=length(1, 100))
    expires_on = fields.Date(load_default=None)


class ServiceTokenArgs(BaseSchema):
    username = fields.String(required=True, validate=length(max=64))
    label = fields.String(required=True, validate=length(1, 100))
    expires_on = fields.Date(load_default=None)
    actions = fields.List(fields.String(validate=length(max=64)), required=True)
    unit_code = fields.String(required=True, validate=length(max=32))

    @pre_load
    def _listify(self, data, **kwargs):
        # One ticked checkbox arrives as a string, several as a list (core.web.form_data).
        if isinstance(data, dict) and isinstance(data.get("actions"), str):
            data = {**data, "actions": [data["actions"]] if data["actions"].strip() else []}
            if not data["actions"]:
                del data["actions"]
        return data
