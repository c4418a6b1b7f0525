"""Load schemas of the 复查/复核 forms on the case page: the request, the organ's decision, a hearing pause."""

from __future__ import annotations

from center.cases.models import REVIEW_DECISION_LABELS, REVIEW_LEVEL_LABELS
from center.cases.reviews.operations import EXTERNAL_MAX, PAUSE_MAX, REFERENCE_MAX
from core.schemas import BaseSchema, fields, length, number_range, one_of


class ReviewArgs(BaseSchema):
    level = fields.String(required=True, validate=one_of(REVIEW_LEVEL_LABELS))
    requested_on = fields.Date(required=True)
    organ = fields.String(required=True, validate=one_of(["platform", "external"]))
    external_organ = fields.String(validate=length(max=EXTERNAL_MAX))
    external_reference = fields.String(validate=length(max=REFERENCE_MAX))


class DecisionArgs(BaseSchema):
    decided_on = fields.Date(required=True)
    decision = fields.String(required=True, validate=one_of(REVIEW_DECISION_LABELS))
    notes = fields.String(validate=length(max=2000))
    external_reference = fields.String(validate=length(max=REFERENCE_MAX))


class PauseArgs(BaseSchema):
    days = fields.Integer(required=True, strict=False, validate=number_range(1, PAUSE_MAX))
    note = fields.String(validate=length(max=500))
