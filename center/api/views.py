"""JSON API /api/v1: the case registry for other systems and scripts. Same jurisdiction as the pages (404
outside it, the 检举控告 rule included); each view reads parse → scoped load → one operation → commit →
serialize. Authentication: center.api.auth; errors: the kernel's envelope (core.error_pages.api_error). The document: center.api.openapi.

The views are exempt from Flask-WTF's default check because a bearer request has no CSRF token to send;
``center.api.auth.authenticate`` applies the same check to every cookie-authenticated write instead.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import or_

from center.api import present
from center.api.openapi import build_document, describe
from center.api.schemas import (
    CaseArgs,
    CaseListArgs,
    CaseListSchema,
    CaseSchema,
    CaseSearchArgs,
    EventListSchema,
    OpenApiDocumentSchema,
    TransitionArgs,
)
from center.cases.intake.numbering import NUMBER_RE
from center.cases.intake.operations import file_case
from center.cases.lifecycle.operations import transition
from center.cases.listing.search import is_personal_identifier, search_candidates, search_clause
from center.cases.models import Case
from center.cases.queries import case_page, get_case_by_number_or_404
from center.cases.routing.units import load_department, load_units
from core.auth.decorators import permission, public
from core.db import db
from core.error_pages import api_error
from core.errors import DomainError, ValidationFailed
from core.extensions import csrf
from core.web import commit, current_actor, load_form

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: CaseArgs fields passed to file_case as they are (the unit ids are resolved first).
INTAKE_FIELDS = ("kind", "petition_class", "category", "channel", "summary", "demands", "people_count",
                 "risk_colour", "occurred_on", "xinfang_no", "hotline_ticket", "court_case_no", "intake_key",
                 "repeat_of")
UNIT_FIELDS = ("origin_unit_id", "handling_unit_id", "accused_unit_id")
INTAKE_DESCRIPTION = (
    "与网页登记表相同的规则（同一个登记操作）：\n"
    "- 字段错误以 422 返回，fields 中的字段名与请求体一致（当事人为 parties.<序号>.<字段>）；没有登记权限返回 403。\n"
    "- 来源单位须为本人可登记的单位：乡镇(街道)、区县的工作人员在村(社区)或以上单位登记，网格只能由所在村(社区)"
    "或网格员登记；否则 422（origin_unit_id）。办理单位可不填（按事项类型自动确定）；填写时须在本人管辖范围内或为"
    "来源单位的上级单位，且不能是网格、信访事项不能是村(社区)；否则 422（handling_unit_id）。\n"
    "- 幂等键 intake_key：同一用户以同一键再次提交，返回已登记的事项（200，不重复登记）；该键已被其他用户的事项"
    "使用时返回 422（intake_key）。\n"
    "- 重复信访：同一当事人（证件号码相同，或姓名和电话相同且事项相近）近 12 个月内在本人管辖范围内有事项、且未填写"
    " repeat_of 时，不登记，返回 422，fields.repeat_of 的提示中列出可能重复的事项编号；请核对后重新提交，"
    "repeat_of 填所重复的事项编号（关联为重复件），或填 none（不是重复件）。")


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


def _case_list(args: dict, clause=None, candidates=None):
    """The page of the actor's cases narrowed by ``args`` (status, kind) and ``clause`` (or to ``candidates``,
    a search's matches), newest first."""
    cases, total = case_page(current_actor(), status=args["status"], kind=args["kind"], clause=clause,
                             candidates=candidates, limit=args["limit"], offset=args["offset"])
    return _dump(CaseListSchema, {"items": present.summaries(cases), "total": total, "limit": args["limit"],
                                  "offset": args["offset"]})


@bp.route("/cases")
@permission("case.read")
@describe(summary="事项列表（管辖范围内，按登记时间倒序）", query=CaseListArgs,
          responses={200: (CaseListSchema, "事项列表")},
          description="q 按事项编号、短号或概要中的文字查找。身份证号、手机号不能放在网址中（会进入访问日志）："
                      "这样的 q 返回 422，请改用 POST /api/v1/cases/search。")
@csrf.exempt
def list_cases():
    args = load_form(CaseListArgs(), request.args.to_dict())
    q = args["q"]
    if q and is_personal_identifier(q):
        raise ValidationFailed({"q": ["身份证号、手机号不能放在网址中，请用 POST /api/v1/cases/search 查询"]})
    clause = None
    if q:
        clause = Case.number == q if NUMBER_RE.fullmatch(q) else or_(
            Case.number.contains(q, autoescape=True), Case.summary.contains(q, autoescape=True))
    return _case_list(args, clause)


@bp.route("/cases/search", methods=["POST"])
@permission("case.read")
@describe(summary="查找事项（身份证号、手机号、短号、姓名、文字）", body=CaseSearchArgs,
          responses={200: (CaseListSchema, "找到的事项（管辖范围内，按登记时间倒序）")},
          description="与网页“查找”相同的规则：完整身份证号、手机号经盲索引精确匹配，短号、事项编号、当事人姓名、"
                      "概要中的文字（多个词须都出现）。查询内容只在请求体中，不进入网址或访问日志。")
@csrf.exempt
def search_cases():
    args = load_form(CaseSearchArgs(), _json_body())
    found = search_candidates(args["q"])  # as the list does: start from the matches when they are few
    return _case_list(args, search_clause(args["q"]) if found is None else None,
                      tuple(sorted(found)) if found is not None else None)


@bp.route("/cases", methods=["POST"])
@permission("case.intake")
@describe(summary="登记事项", body=CaseArgs,
          responses={201: (CaseSchema, "已登记"), 200: (CaseSchema, "同一幂等键已登记过：返回原事项")},
          description=INTAKE_DESCRIPTION)
@csrf.exempt
def create_case():
    actor = current_actor()
    args = load_form(CaseArgs(), _json_body())
    given = load_units(**{key: args[key] for key in UNIT_FIELDS})
    # Every rule (units, intake key, repeats) is file_case's, exactly as for the intake form.
    case, created = file_case(actor, parties=args["parties"], origin_unit=given["origin_unit_id"],
                              handling_unit=given["handling_unit_id"], accused_unit=given["accused_unit_id"],
                              **{key: args[key] for key in INTAKE_FIELDS})
    commit()
    return _dump(CaseSchema, present.detail(case), 201 if created else 200)


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
          description="请求体按 action 区分（oneOf，discriminator 为 action）：每个操作只接受其所列字段，"
                      "多填（即使为 null）返回 422。"
                      "与网页相同的规则（同一个流转操作）：状态机不允许的操作返回 422（code 为 invalid_transition）；"
                      "无权执行返回 403；管辖范围外返回 404。不予受理（not_accept）、退回（return）须在 note 中写明理由，"
                      "转送（transfer）须填写 department_id，转人民调解（refer_mediation）的 consent 须含双方当事人，"
                      "导入法定程序（guide_to_legal）须填写 legal_channel，交办（hand_down）的 unit_id 须为"
                      "办理单位的下级单位且可以办理本事项（网格不能办理，信访事项不能交办到村(社区)），"
                      "否则 422，fields 中给出对应字段。")
@csrf.exempt
def transition_case(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    args = load_form(TransitionArgs(), _json_body())
    unit = load_units(unit_id=args["unit_id"])["unit_id"]
    department = load_department(args["department_id"])
    transition(case, args["action"], actor=actor, note=args["note"], unit=unit, consent=frozenset(args["consent"]),
               department=department, legal_channel=args["legal_channel"])
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

