"""Load schemas of the intake and triage forms (Chinese messages; business rules stay in the operations)."""

from __future__ import annotations

from center.cases.intake.identity import IdType
from center.cases.models import CaseChannel, CaseKind, PartyKind, PetitionClass, RiskColour
from core.schemas import BaseSchema, fields, length, number_range, one_of, regexp

LEGAL_CHANNELS = {"litigation": "诉讼", "arbitration": "仲裁", "reconsideration": "行政复议"}
#: The clerk's answer to the repeat candidates: "none" (不是重复件) or the number of the earlier case.
REPEAT_PATTERN = r"^(none|[A-Z]{1,8}-[0-9]{4}-[0-9]{6})$"
PARTY_FIELDS = ("name", "kind", "id_type", "id_number", "phone", "address")


def _party_fields(prefix: str, required: bool) -> dict:
    return {
        f"{prefix}_name": fields.String(required=required, validate=length(max=100)),
        f"{prefix}_kind": fields.String(validate=one_of([k.value for k in PartyKind])),
        f"{prefix}_id_type": fields.String(validate=one_of([t.value for t in IdType])),
        f"{prefix}_id_number": fields.String(validate=length(max=32)),
        f"{prefix}_phone": fields.String(validate=length(max=32)),
        f"{prefix}_address": fields.String(validate=length(max=200)),
    }


class IntakeArgs(BaseSchema.from_dict({**_party_fields("applicant", True),
                                       **_party_fields("respondent", False)})):
    kind = fields.String(required=True, validate=one_of([k.value for k in CaseKind]))
    petition_class = fields.String(validate=one_of([c.value for c in PetitionClass]))
    category = fields.String(required=True, validate=length(max=32))
    channel = fields.String(required=True, validate=one_of([c.value for c in CaseChannel]))
    origin_unit_id = fields.Integer(required=True)
    #: optional: the operation routes by kind when absent (center.cases.routing.units.default_handling_unit)
    handling_unit_id = fields.Integer()
    accused_unit_id = fields.Integer()
    summary = fields.String(required=True, validate=length(max=2000))
    demands = fields.String(validate=length(max=2000))
    people_count = fields.Integer(load_default=1, validate=number_range(1, 100000))
    risk_colour = fields.String(required=True, validate=one_of([c.value for c in RiskColour]))
    occurred_on = fields.Date()
    xinfang_no = fields.String(validate=length(max=64))
    hotline_ticket = fields.String(validate=length(max=64))
    court_case_no = fields.String(validate=length(max=64))
    intake_key = fields.String(validate=[length(max=64), regexp(r"^[A-Za-z0-9_-]+$", "登记标识格式无效")])
    repeat_of = fields.String(validate=regexp(REPEAT_PATTERN, "请选择关联的重复事项或“不是重复件”"))


class TransitionArgs(BaseSchema):
    #: the transition's note (不予受理理由, 说明 …): not "note", which the notes panel's form uses on the same page
    remark = fields.String(validate=length(max=2000))
    unit_id = fields.Integer()
    #: 转送: the competent department
    department_id = fields.Integer()
    legal_channel = fields.String(validate=one_of(list(LEGAL_CHANNELS)))
    consent_applicant = fields.Boolean()
    consent_respondent = fields.Boolean()


class OwnerArgs(BaseSchema):
    owner_leader_id = fields.Integer()
    assignee_id = fields.Integer()


class RegradeArgs(BaseSchema):
    new_colour = fields.String(required=True, validate=one_of([c.value for c in RiskColour]))
    regrade_reason = fields.String(required=True, validate=length(max=500))


def parties_from(args: dict) -> list[dict]:
    """The applicant and (when named) the respondent as ``operations.clean_party`` takes them."""
    out = []
    for prefix, role in (("applicant", "applicant"), ("respondent", "respondent")):
        party = {key: args.get(f"{prefix}_{key}") for key in PARTY_FIELDS}
        if role == "respondent" and not any(party.values()):
            continue
        out.append({"role": role, **party})
    return out
