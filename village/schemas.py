"""Load schemas of the grid worker's phone forms (Chinese messages; rules stay in the operations)."""

from __future__ import annotations

from center.cases.intake.identity import IdType
from center.cases.intake.schemas import REPEAT_PATTERN
from center.cases.models import Rating, VisitMethod
from core.schemas import BaseSchema, fields, length, number_range, one_of, regexp


class AgentFilingArgs(BaseSchema):
    kind = fields.String(load_default="dispute", validate=one_of(["dispute", "petition"]))
    name = fields.String(required=True, validate=length(max=100))
    id_type = fields.String(validate=one_of([t.value for t in IdType if t != IdType.uscc]))
    id_number = fields.String(validate=length(max=32))
    phone = fields.String(required=True, validate=length(max=32))
    summary = fields.String(required=True, validate=length(max=1000))
    demands = fields.String(validate=length(max=1000))
    category = fields.String(required=True, validate=length(max=32))
    place = fields.String(validate=length(max=100))
    people_count = fields.Integer(load_default=1, validate=number_range(1, 10000))
    consent = fields.Boolean(load_default=False)
    intake_key = fields.String(required=True, validate=[length(max=64),
                                                        regexp(r"^[A-Za-z0-9_-]+$", "登记标识格式无效，请刷新页面")])
    #: the answer to the repeat candidates the registry found (an earlier case's number, or "none")
    repeat_of = fields.String(validate=regexp(REPEAT_PATTERN, "请选择关联的重复事项或“不是重复件”"))


class NoteArgs(BaseSchema):
    note = fields.String(required=True, validate=length(max=2000))


class VisitArgs(BaseSchema):
    method = fields.String(required=True, validate=one_of([m.value for m in VisitMethod]))
    notes = fields.String(required=True, validate=length(max=2000))
    rating = fields.String(validate=one_of([r.value for r in Rating]))


class EscalationArgs(BaseSchema):
    reason = fields.String(required=True, validate=length(max=500))
