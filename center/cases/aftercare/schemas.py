"""Load schemas of the evaluation and follow-up forms (and the note-only posts: reopen, and mediation's
approvals) on the case page."""

from __future__ import annotations

from center.cases.mediation.operations import TEXT_MAX
from center.cases.models import EVALUATION_STAGE_LABELS, RATING_LABELS, VISIT_METHOD_LABELS, EvaluationSource
from core.schemas import BaseSchema, fields, length, one_of


class NoteArgs(BaseSchema):
    note = fields.String(validate=length(max=500))


class EvaluationArgs(BaseSchema):
    stage = fields.String(required=True, validate=one_of(EVALUATION_STAGE_LABELS))
    rating = fields.String(required=True, validate=one_of(RATING_LABELS))
    source = fields.String(required=True, validate=one_of([EvaluationSource.staff, EvaluationSource.petitioner]))
    note = fields.String(validate=length(max=500))


class VisitArgs(BaseSchema):
    visited_at = fields.DateTime(required=True)
    method = fields.String(required=True, validate=one_of(VISIT_METHOD_LABELS))
    notes = fields.String(required=True, validate=length(max=TEXT_MAX))
    rating = fields.String(validate=one_of(RATING_LABELS))
    note = fields.String(validate=length(max=500))
