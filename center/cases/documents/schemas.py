"""Load schemas of the document pages (draft, edit, serve, extend) and the choices their forms offer."""

from __future__ import annotations

from center.cases.documents import operations as ops
from center.cases.models import SERVICE_METHOD_LABELS, DocumentKind, ServiceMethod
from core.schemas import BaseSchema, fields, length, number_range, one_of

DRAFT_KINDS = [(DocumentKind.answer.value, "答复意见书（信访事项处理意见书）"),
               (DocumentKind.not_accepted.value, "不予受理告知书"),
               (DocumentKind.acceptance.value, "受理告知书（受理后15日内书面告知信访人）")]
METHODS = [(m.value, SERVICE_METHOD_LABELS[m]) for m in ServiceMethod]


class DraftArgs(BaseSchema):
    kind = fields.String(required=True, validate=one_of([k for k, _ in DRAFT_KINDS]))


class EditArgs(BaseSchema):
    title = fields.String(required=True, validate=length(max=ops.TITLE_MAX))
    doc_no = fields.String(validate=length(max=ops.DOC_NO_MAX))
    body = fields.String(required=True, validate=length(max=ops.BODY_MAX))


class ServeArgs(BaseSchema):
    method = fields.String(required=True, validate=one_of([m for m, _ in METHODS]))
    served_on = fields.Date(required=True)
    reference = fields.String(validate=length(max=64))
    recipient = fields.String(validate=length(max=100))


class ExtendArgs(BaseSchema):
    days = fields.Integer(required=True, validate=number_range(1, ops.MAX_EXTENSION_DAYS))
    reason = fields.String(required=True, validate=length(max=500))
    drafter_id = fields.Integer()
