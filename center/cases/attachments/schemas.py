"""Load schemas of the progress-note form (with photos) and the upload form on the case page."""

from __future__ import annotations

from center.cases.attachments.notes import NOTE_MAX
from center.cases.attachments.operations import PURPOSE_LABELS
from core.schemas import BaseSchema, fields, length, one_of


class NoteArgs(BaseSchema):
    note = fields.String(required=True, validate=length(max=NOTE_MAX))


class UploadArgs(BaseSchema):
    purpose = fields.String(load_default="other", validate=one_of(PURPOSE_LABELS))
