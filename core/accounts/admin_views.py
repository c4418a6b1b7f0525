"""Administration of users, memberships and the security policy (三权分立: see core/auth/permissions).

The system administrator creates accounts and proposes memberships; the security administrator activates or
refuses them on the pending page (core.accounts.memberships). Acts on another administrator's account go
through a request instead (core.accounts.request_views)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.accounts import memberships, operations, queries
from core.accounts.models import (
    ACCOUNT_KIND_LABELS,
    ADMIN_ROLES,
    DEPARTMENT_ROLES,
    ROLE_LABELS,
    AccountKind,
    Role,
)
from core.accounts.policy import FIELDS, current_policy
from core.accounts.schemas import (
    DecisionNoteArgs,
    MembershipArgs,
    PolicyArgs,
    ResetPasswordArgs,
    UnlockArgs,
    UserCreateArgs,
    UserUpdateArgs,
)
from core.auth.decorators import permission
from core.db import utcnow
from core.errors import ValidationFailed
from core.org import queries as org_queries
from core.schemas import EmptyArgs
from core.web import commit, current_actor, submit

bp = Blueprint("users", __name__, url_prefix="/admin")

USER_PAGE = 100
ROLE_OPTIONS = [(r.value, ROLE_LABELS[r]) for r in Role]
#: What the web may place: the three administrator posts are set on the console only (memberships.py).
PLACEABLE_ROLE_OPTIONS = [(r.value, ROLE_LABELS[r]) for r in Role if r not in ADMIN_ROLES]
KIND_OPTIONS = [(k.value, ACCOUNT_KIND_LABELS[k]) for k in AccountKind]
PENDING = "core/users/pending.html"


def _place(args, actor):
    """Resolve the membership's place from the form, inside the actor's jurisdiction."""
    if Role(args["role"]) in DEPARTMENT_ROLES:
        if not args.get("department_id"):
            raise ValidationFailed({"department_id": ["部门岗位须选择所属部门"]})
        try:
            return org_queries.get_department_or_404(args["department_id"], actor=actor, action="user.manage")
        except Exception as exc:
            raise ValidationFailed({"department_id": ["所选部门不存在或不在您的管辖范围内"]}) from exc
    code = args.get("unit_code")
    if not code:
        raise ValidationFailed({"unit_code": ["请填写所属单位代码"]})
    unit = org_queries.unit_by_code(code)
    from core.auth.permissions import can

    if unit is None or not can(actor, "user.manage", unit):
        raise ValidationFailed({"unit_code": ["单位代码不存在或不在您的管辖范围内"]})
    return unit


def _form_context(actor):
    departments = org_queries.list_departments(actor, action="user.manage")
    return {
        "role_options": PLACEABLE_ROLE_OPTIONS,
        "kind_options": KIND_OPTIONS,
        "units": org_queries.list_units(actor, action="user.manage", limit=5000),
        "dept_options": [(d.id, f"{d.unit.name} · {d.name}（{d.kind_label}）") for d in departments],
    }


@bp.route("/users")
@permission("user.view")
def index():
    actor = current_actor()
    q = request.args.get("q", "").strip()[:64] or None
    role = request.args.get("role") if request.args.get("role") in {r.value for r in Role} else None
    after = request.args.get("after", "").strip()[:64] or None
    users = queries.list_users(actor, q=q, role=role, limit=USER_PAGE + 1, after=after)
    shown = users[:USER_PAGE]
    return render_template("core/users/index.html", users=shown, truncated=len(users) > USER_PAGE,
                           next_after=shown[-1].username if len(users) > USER_PAGE else None, after=after,
                           q=q or "", role=role or "", role_options=ROLE_OPTIONS)


@bp.route("/users/new", methods=["GET", "POST"])
@permission("user.manage")
def new():
    actor = current_actor()
    if request.method == "GET":
        return render_template("core/users/new.html", form={}, errors={}, **_form_context(actor))

    def perform(args):
        place = _place(args, actor)
        user = operations.create_user(username=args["username"], display_name=args["display_name"],
                                      title=args.get("title"), password=args.get("password"), actor=actor,
                                      memberships=[(Role(args["role"]), place)], kind=args["kind"])
        then = "首次登录须修改密码；" if not user.is_service else ""
        flash(f"已创建用户 {user.username}，{then}岗位待安全管理员激活后生效", "success")
        return redirect(url_for("users.detail", user_id=user.id))

    return submit(UserCreateArgs(), perform, "core/users/new.html", context_fn=lambda: _form_context(actor))


def _detail(user, *, errors=None, form=None, status=200):
    actor = current_actor()
    return render_template("core/users/detail.html", user=user, errors=errors or {},
                           form=form or {"display_name": user.display_name, "title": user.title or ""},
                           **_form_context(actor), **_detail_context(user)), status


def _detail_context(user) -> dict:
    # An administrator's account is acted on through a request and the third administrator's approval.
    return {"admin_target": memberships.is_administrator(user)}


@bp.route("/users/<int:user_id>")
@permission("user.view")
def detail(user_id: int):
    return _detail(queries.get_user_or_404(user_id, actor=current_actor()))


def _user_post(user_id, schema, action):
    actor = current_actor()
    user = queries.get_user_or_404(user_id, actor=actor)

    def perform(args):
        message = action(user, args, actor)
        flash(message, "success")
        return redirect(url_for("users.detail", user_id=user.id))

    return submit(schema, perform, "core/users/detail.html", user=user,
                  context_fn=lambda: {**_form_context(actor), **_detail_context(user)})


@bp.route("/users/<int:user_id>/edit", methods=["POST"])
@permission("user.manage")
def edit(user_id: int):
    def action(user, args, actor):
        operations.update_user(user, actor=actor, display_name=args["display_name"], title=args.get("title"))
        return "已保存"

    return _user_post(user_id, UserUpdateArgs(), action)


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@permission("user.manage")
def disable(user_id: int):
    def action(user, args, actor):
        operations.set_user_active(user, False, actor=actor)
        return "已停用该用户，其所有登录已退出"

    return _user_post(user_id, EmptyArgs(), action)


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@permission("user.manage")
def enable(user_id: int):
    def action(user, args, actor):
        operations.set_user_active(user, True, actor=actor)
        return "已启用该用户"

    return _user_post(user_id, EmptyArgs(), action)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@permission("user.manage")
def reset_password(user_id: int):
    def action(user, args, actor):
        operations.reset_password(user, new_password=args["password"], actor=actor)
        return "已重置密码，用户下次登录须修改密码"

    return _user_post(user_id, ResetPasswordArgs(), action)


@bp.route("/users/<int:user_id>/memberships", methods=["POST"])
@permission("user.manage")
def add_membership(user_id: int):
    def action(user, args, actor):
        operations.add_membership(user, role=Role(args["role"]), place=_place(args, actor), actor=actor)
        return "已提议该岗位，待安全管理员激活后生效"

    return _user_post(user_id, MembershipArgs(), action)


@bp.route("/memberships/<int:membership_id>/end", methods=["POST"])
@permission("user.manage")
def end_membership(membership_id: int):
    actor = current_actor()
    m = queries.get_membership_or_404(membership_id, actor=actor)

    def perform(args):
        operations.end_membership(m, actor=actor)
        flash("已撤销该岗位", "success")
        return redirect(url_for("users.detail", user_id=m.user_id))

    return submit(EmptyArgs(), perform, "core/users/detail.html", user=m.user,
                  context_fn=lambda: {**_form_context(actor), **_detail_context(m.user)})


@bp.route("/memberships/pending")
@permission("membership.activate")
def pending_memberships():
    return render_template(PENDING, pending=queries.pending_memberships(current_actor()), errors={}, form={})


def _decision(membership_id: int, schema, action, message: str):
    actor = current_actor()
    m = queries.get_membership_or_404(membership_id, actor=actor, action="membership.activate")

    def perform(args):
        action(m, args, actor)
        flash(message.format(user=m.user.username, role=m.role_label), "success")
        return redirect(url_for("users.pending_memberships"))

    return submit(schema, perform, PENDING, context_fn=lambda: {"pending": queries.pending_memberships(actor)})


@bp.route("/memberships/<int:membership_id>/activate", methods=["POST"])
@permission("membership.activate")
def activate_membership(membership_id: int):
    return _decision(membership_id, EmptyArgs(), lambda m, args, actor: memberships.activate_membership(
        m, actor=actor), "已激活 {user} 的岗位「{role}」")


@bp.route("/memberships/<int:membership_id>/refuse", methods=["POST"])
@permission("membership.activate")
def refuse_membership(membership_id: int):
    return _decision(membership_id, DecisionNoteArgs(), lambda m, args, actor: memberships.refuse_membership(
        m, actor=actor, note=args["note"]), "已拒绝 {user} 的岗位「{role}」")


@bp.route("/security", methods=["GET", "POST"])
@permission("security.policy")
def security_policy():
    policy = current_policy()
    ctx = _security_context()
    if request.method == "GET":
        return render_template("core/users/security.html", form={f: getattr(policy, f) for f in FIELDS},
                               errors={}, **ctx)

    def perform(args):
        operations.update_policy(actor=current_actor(), **args)
        flash("安全策略已保存", "success")
        return redirect(url_for("users.security_policy"))

    return submit(PolicyArgs(), perform, "core/users/security.html", **ctx)


@bp.route("/security/unlock", methods=["POST"])
@permission("user.unlock")
def unlock():
    def perform(args):
        operations.unlock(args["username"], actor=current_actor())
        flash(f"已解除 {args['username']} 的登录锁定", "success")
        return redirect(url_for("users.security_policy"))

    return submit(UnlockArgs(), perform, "core/users/security.html", **_security_context())


def _security_context() -> dict:
    from core.accounts import factors
    from core.accounts.models import ADMIN_ROLES, Role

    return {"locked": queries.locked_usernames(utcnow()), "roles": list(Role),
            "factor_roles": factors.required_roles(), "always": ADMIN_ROLES}


@bp.route("/security/factor-roles", methods=["POST"])
@permission("security.policy")
def factor_roles():
    from core.accounts import factors
    from core.accounts.models import Role

    chosen = request.form.getlist("role")
    if any(v not in Role._value2member_map_ for v in chosen):
        flash("岗位不在可选范围内，未作修改", "error")
        return redirect(url_for("users.security_policy"))
    factors.set_required_roles({Role(v) for v in chosen}, actor=current_actor())
    commit()
    flash("须使用动态口令登录的岗位已保存", "success")
    return redirect(url_for("users.security_policy"))
