"""JSON API /api/v1: the case registry for other systems and scripts. Same jurisdiction as the pages (404
outside it, the 检举控告 rule included); each view reads parse → scoped load → one operation → commit →
serialize. Authentication: center.api.auth; errors: the kernel's envelope (core.error_pages.api_error). The document: center.api.openapi.

The views are exempt from Flask-WTF's default check because a bearer request has no CSRF token to send;
``center.api.auth.authenticate`` applies the same check to every cookie-authenticated write instead.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, or_, select

from center.api import present
from center.api.openapi import build_document, describe
from center.api.schemas import (
    CaseArgs,
    CaseListArgs,
    CaseListSchema,
    CaseSchema,
    EventListSchema,
    OpenApiDocumentSchema,
    TransitionArgs,
)
from center.cases.lifecycle import transition
from center.cases.models import Case
from center.cases.numbering import NUMBER_RE
from center.cases.operations import case_for_intake_key, register_case
from center.cases.queries import cases_query, get_case_by_number_or_404
from core.auth.decorators import permission, public
from core.db import db
from core.error_pages import api_error
from core.errors import DomainError, ValidationFailed
from core.extensions import csrf
from core.org.models import OrgUnit
from core.web import commit, current_actor, load_form

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: CaseArgs fields passed to register_case as they are (the unit ids are resolved first).
INTAKE_FIELDS = ("kind", "petition_class", "category", "channel", "summary", "demands", "people_count",
                 "risk_colour", "occurred_on", "xinfang_no", "hotline_ticket", "court_case_no", "intake_key")


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadBody()
    return data


class BadBody(DomainError):
    status = 400
    default_message = "请求体须为 JSON 对象（Content-Type: application/json）"


def _dump(schema_cls, data, status: int = 200):
    response = jsonify(schema_cls().dump(data))
    response.status_code = status
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(exc):
    db.session.rollback()
    return api_error(400, "CSRF 校验失败：使用登录会话调用接口时，非 GET 请求须在 X-CSRFToken 头中携带页面的"
                                    " CSRF 令牌", code="csrf_failed")


# --- cases ----------------------------------------------------------------------------------------------------


@bp.route("/cases")
@permission("case.read")
@describe(summary="事项列表（管辖范围内，按登记时间倒序）", query=CaseListArgs,
          responses={200: (CaseListSchema, "事项列表")})
@csrf.exempt
def list_cases():
    args = load_form(CaseListArgs(), request.args.to_dict())
    stmt = cases_query(current_actor())
    if args["status"]:
        stmt = stmt.where(Case.status == args["status"])
    if args["kind"]:
        stmt = stmt.where(Case.kind == args["kind"])
    if args["q"]:
        q = args["q"]
        stmt = stmt.where(Case.number == q if NUMBER_RE.fullmatch(q) else or_(
            Case.number.contains(q, autoescape=True), Case.summary.contains(q, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(stmt.with_only_columns(Case.id).subquery()))
    cases = list(db.session.scalars(stmt.order_by(Case.received_at.desc(), Case.id.desc())
                                    .limit(args["limit"]).offset(args["offset"])))
    return _dump(CaseListSchema, {"items": present.summaries(cases), "total": total, "limit": args["limit"],
                                  "offset": args["offset"]})


def _unit(unit_id, field: str) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None or not unit.is_active:
        raise ValidationFailed({field: ["单位不存在或已停用"]})
    return unit


def _intake_units(args: dict, actor) -> dict:
    """The units of an intake, each checked against the actor's jurisdiction (422 on its field)."""
    from core.auth.permissions import can

    origin = _unit(args["origin_unit_id"], "origin_unit_id")
    if not can(actor, "case.intake", origin):
        raise ValidationFailed({"origin_unit_id": ["来源单位不存在或不在您的管辖范围内"]})
    units = {"origin_unit": origin}
    if args["handling_unit_id"] is not None:
        handling = _unit(args["handling_unit_id"], "handling_unit_id")
        # The clerk may name a unit of their own jurisdiction, or one above the origin (where it goes anyway).
        if not (can(actor, "case.intake", handling) or origin.is_within(handling)):
            raise ValidationFailed({"handling_unit_id": ["办理单位不在您的管辖范围内"]})
        units["handling_unit"] = handling
    if args["accused_unit_id"] is not None:
        accused = _unit(args["accused_unit_id"], "accused_unit_id")
        if accused.ancestor_ids[0] != origin.ancestor_ids[0]:
            raise ValidationFailed({"accused_unit_id": ["被检举控告单位须与来源单位同属一个区县"]})
        units["accused_unit"] = accused
    return units


@bp.route("/cases", methods=["POST"])
@permission("case.intake")
@describe(summary="登记事项", body=CaseArgs,
          responses={201: (CaseSchema, "已登记"), 200: (CaseSchema, "同一幂等键已登记过：返回原事项")},
          description="字段错误以 422 返回，fields 中的字段名与请求体一致（当事人为 parties.<序号>.<字段>）。")
@csrf.exempt
def create_case():
    actor = current_actor()
    args = load_form(CaseArgs(), _json_body())
    # A replay of an earlier intake (same key, same user) answers that case: 200 instead of 201.
    existing = case_for_intake_key(actor, args["intake_key"])
    if existing is not None:
        return _dump(CaseSchema, present.detail(existing), 200)
    fields = {key: args[key] for key in INTAKE_FIELDS}
    case = register_case(actor, parties=args["parties"], **fields, **_intake_units(args, actor))
    commit()
    return _dump(CaseSchema, present.detail(case), 201)


@bp.route("/cases/<number>")
@permission("case.read")
@describe(summary="事项详情", responses={200: (CaseSchema, "事项")}, errors=(401, 403, 404))
@csrf.exempt
def get_case(number: str):
    return _dump(CaseSchema, present.detail(get_case_by_number_or_404(number, actor=current_actor())))


@bp.route("/cases/<number>/transitions", methods=["POST"])
@permission("case.read")
@describe(summary="流转事项（受理、交办、上报、办结……）", body=TransitionArgs,
          responses={200: (CaseSchema, "流转后的事项")}, errors=(401, 403, 404),
          description="状态机不允许的操作返回 422（code 为 invalid_transition）；"
                      "无权执行返回 403；管辖范围外返回 404。")
@csrf.exempt
def transition_case(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    args = load_form(TransitionArgs(), _json_body())
    unit = _unit(args["unit_id"], "unit_id") if args["unit_id"] is not None else None
    transition(case, args["action"], actor=actor, note=args["note"], unit=unit, consent=frozenset(args["consent"]))
    commit()
    return _dump(CaseSchema, present.detail(case))


@bp.route("/cases/<number>/events")
@permission("case.read")
@describe(summary="事项时间线", responses={200: (EventListSchema, "时间线（按时间先后）")}, errors=(401, 403, 404))
@csrf.exempt
def case_events(number: str):
    case = get_case_by_number_or_404(number, actor=current_actor())
    return _dump(EventListSchema, {"items": present.events(case)})


# --- the document ---------------------------------------------------------------------------------------------


@bp.route("/openapi.json")
@public
@describe(summary="本接口的 OpenAPI 3.1 文档（公开）", responses={200: (OpenApiDocumentSchema, "OpenAPI 文档")},
          public=True)
@csrf.exempt
def openapi_document():
    return jsonify(build_document(current_app))

