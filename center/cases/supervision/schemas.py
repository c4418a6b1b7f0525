"""Load schema of a leader's 督办 form on the case page."""

from __future__ import annotations

from center.cases.supervision.operations import MANUAL_FORMS, MANUAL_LEVELS
from core.schemas import BaseSchema, fields, length, one_of

OPINION_MAX = 2000


class SuperviseArgs(BaseSchema):
    level = fields.String(required=True, validate=one_of([str(n) for n in MANUAL_LEVELS]))
    form = fields.String(required=True, validate=one_of([f.value for f in MANUAL_FORMS]))
    opinion = fields.String(required=True, validate=length(max=OPINION_MAX))
    new_due_on = fields.Date(load_default=None)
