"""Load schemas of the dispatch and assignment-step forms (Chinese messages, unknown fields refused)."""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import validate

from center.departments.operations import REASON_MAX, RESULT_MAX, TASK_MAX
from core.schemas import BaseSchema, fields, length
from core.timefmt import SHANGHAI

MAX_ID = 2**31 - 1


class LocalDateTime(fields.Field):
    """A ``datetime-local`` input ("2026-05-01T14:30") read as Asia/Shanghai time, loaded as aware UTC."""

    FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
    default_error_messages = {"invalid": "请填写有效时间（如 2026-05-01 14:30）"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        for fmt in self.FORMATS:
            try:
                naive = datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
            if not 2000 <= naive.year <= 2100:
                break
            return naive.replace(tzinfo=SHANGHAI).astimezone(UTC)
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(SHANGHAI).strftime(self.FORMATS[0])


class _Next(BaseSchema):
    #: where to go afterwards (a same-site path: the desk or the case page)
    next = fields.String(validate=length(max=200))


class DispatchArgs(_Next):
    department_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID, error="请从列表中选择部门"))
    task = fields.String(required=True, validate=length(max=TASK_MAX))
    #: required for an on-call department (checked by the operation, which knows the department's kind)
    arrive_by = LocalDateTime()


class StepArgs(_Next):
    """响应 and 接办: a button."""


class ArriveArgs(_Next):
    #: left empty: now
    arrived_at = LocalDateTime()


class CompleteArgs(_Next):
    result = fields.String(required=True, validate=length(max=RESULT_MAX))


class WithdrawArgs(_Next):
    reason = fields.String(required=True, validate=length(max=REASON_MAX))
