"""Form schemas of the holiday table pages."""

from __future__ import annotations

from core.calendar.operations import MAX_YEAR, MIN_YEAR, SET_KINDS
from core.schemas import BaseSchema, fields, length, number_range, one_of


class SetDayArgs(BaseSchema):
    day = fields.Date(required=True)
    kind = fields.String(required=True, validate=one_of(SET_KINDS))
    name = fields.String(load_default=None, validate=length(max=32))


class PublishYearArgs(BaseSchema):
    year = fields.Integer(required=True, strict=False, validate=number_range(MIN_YEAR, MAX_YEAR))
