"""Requests between administrators (dual control, core.accounts.dual_control): ask for an act on another
administrator's account, approve or reject it as the third administrator, withdraw one's own request."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core import hooks
from core.accounts import dual_control
from core.accounts.models import ADMIN_ACT_LABELS, AdminActKind, AdminRequestStatus, User
from core.accounts.queries import get_membership_or_404, users_query
from core.accounts.schemas import AdminRequestArgs, ApproveArgs, DecisionNoteArgs
from core.auth.decorators import permission
from core.db import db
from core.errors import NotFound, ValidationFailed
from core.schemas import EmptyArgs
from core.web import current_actor, submit

bp = Blueprint("admin_requests", __name__, url_prefix="/admin/requests")

INDEX = "core/requests/index.html"
NEW = "core/requests/new.html"
ACTION = dual_control.ADMIN_REQUEST
KIND_OPTIONS = [(k.value, ADMIN_ACT_LABELS[k]) for k in dual_control.WEB_KINDS]


def _index_context() -> dict:
    actor = current_actor()
    rows = dual_control.list_requests(actor)
    return {"requests": rows, "actor_id": actor.user_id, "errors": {}, "form": {},
            "refusals": {r.id: dual_control.approval_refusal(r, actor) for r in rows},
            "lapsed": {r.id for r in rows if dual_control.is_lapsed(r)},
            "binding_pages": hooks.device_binding_pages, "role_label": dual_control.role_label,
            "Status": AdminRequestStatus}


@bp.route("")
@permission(ACTION)
def index():
    return render_template(INDEX, **_index_context())


def _target(username: str, actor) -> User:
    user = db.session.scalar(users_query(actor, ACTION).where(User.username == (username or "").strip().lower()))
    if user is None:
        raise ValidationFailed({"username": ["用户不存在或不在您的管辖范围内"]})
    return user


@bp.route("/new", methods=["GET", "POST"])
@permission(ACTION)
def new():
    actor = current_actor()
    ctx = {"kind_options": KIND_OPTIONS}
    if request.method == "GET":
        prefill = {k: request.args.get(k, "")[:64] for k in ("kind", "username", "membership_id")}
        return render_template(NEW, form=prefill, errors={}, **ctx)

    def perform(args):
        target = _target(args["username"], actor)
        membership = None
        if args["kind"] == AdminActKind.end_membership and args.get("membership_id"):
            try:
                membership = get_membership_or_404(args["membership_id"], actor=actor, action=ACTION)
            except NotFound as exc:
                raise ValidationFailed({"membership_id": ["请选择该账户的一个有效岗位"]}) from exc
        req = dual_control.request_act(kind=args["kind"], target=target, actor=actor, reason=args["reason"],
                                       new_password=args.get("password"), membership=membership)
        flash(f"已提交申请（第 {req.id} 号），待第三名管理员批准", "success")
        return redirect(url_for("admin_requests.index"))

    return submit(AdminRequestArgs(), perform, NEW, **ctx)


def _decide(request_id: int, schema, action, message: str):
    actor = current_actor()
    req = dual_control.get_request_or_404(request_id, actor=actor)

    def perform(args):
        action(req, args, actor)
        flash(message.format(id=req.id, kind=req.kind_label, user=req.target.username), "success")
        return redirect(url_for("admin_requests.index"))

    return submit(schema, perform, INDEX, context_fn=lambda: {k: v for k, v in _index_context().items()
                                                              if k not in ("errors", "form")})


@bp.route("/<int:request_id>/approve", methods=["POST"])
@permission(ACTION)
def approve(request_id: int):
    return _decide(request_id, ApproveArgs(), lambda req, args, actor: dual_control.approve(
        req, actor=actor, note=args.get("note")), "已批准第 {id} 号申请：{user} 的「{kind}」")


@bp.route("/<int:request_id>/reject", methods=["POST"])
@permission(ACTION)
def reject(request_id: int):
    return _decide(request_id, DecisionNoteArgs(), lambda req, args, actor: dual_control.reject(
        req, actor=actor, note=args["note"]), "已驳回第 {id} 号申请")


@bp.route("/<int:request_id>/cancel", methods=["POST"])
@permission(ACTION)
def cancel(request_id: int):
    return _decide(request_id, EmptyArgs(), lambda req, args, actor: dual_control.cancel(req, actor=actor),
                   "已撤回第 {id} 号申请")

