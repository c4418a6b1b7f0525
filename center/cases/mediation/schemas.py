"""Load schemas of the mediation forms on the case page (a session, its outcome); the approvals take only a
note (center.cases.aftercare.schemas.NoteArgs)."""

from __future__ import annotations

from center.cases.mediation.operations import MEDIATORS_MAX, PLACE_MAX, TEXT_MAX
from center.cases.models import MEDIATION_OUTCOME_LABELS, MEDIATION_TYPE_LABELS
from core.schemas import BaseSchema, fields, length, one_of


class SessionArgs(BaseSchema):
    mediation_type = fields.String(required=True, validate=one_of(MEDIATION_TYPE_LABELS))
    held_at = fields.DateTime(required=True)
    place = fields.String(validate=length(max=PLACE_MAX))
    mediators = fields.String(required=True, validate=length(max=MEDIATORS_MAX))
    participants = fields.String(validate=length(max=2000))
    notes = fields.String(validate=length(max=TEXT_MAX))


class OutcomeArgs(BaseSchema):
    outcome = fields.String(required=True, validate=one_of(MEDIATION_OUTCOME_LABELS))
    agreement = fields.String(validate=length(max=TEXT_MAX))
    guidance = fields.String(validate=length(max=2000))
