"""Dual control between the three administrators (三权分立, GB/T 22239-2019 §8.1.4.2 d, §8.1.5.1–3).

No administrator resets the credentials of, disables, enables, ends a membership of, or binds a device to the
account of another administrator alone: one administrator *requests* the act (with a reason), the *third*
approves it — an administrator who holds neither the requester's role nor the target's, and is neither of them
— and then it is carried out, each step audited and announced (``core.hooks.announce``). A password reset
carries the argon2 hash of the new password the requester chose, so no plain password is stored; approving
applies it. A device binding is carried out by the requester after approval: issuing the one-time binding code
(notify.bindings) spends the approval. Requests lapse after ``ADMIN_REQUEST_TTL_HOURS``.

When no third administrator can act (locked out, gone), the server console's ``flask accounts break-glass``
(core.accounts.break_glass) is the recovery path. Operations take the actor, check permission first, write
their audit row and never commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from core import hooks
from core.accounts.memberships import admin_roles, is_administrator
from core.accounts.models import (
    ADMIN_ROLES,
    ROLE_LABELS,
    AdminActKind,
    AdminRequest,
    AdminRequestStatus,
    Membership,
    User,
)
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import can, has_permission, require
from core.db import db, utcnow
from core.errors import PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

ADMIN_REQUEST = "admin.request"
DUAL_CONTROL = "{what}须由一名管理员提出申请、经第三名管理员批准后执行（三权分立）。请到「管理员操作审批」提交申请。"
#: the acts the web may request (unlock is the console's only: clearing a lockout hands over no credential)
WEB_KINDS = (AdminActKind.reset_password, AdminActKind.disable, AdminActKind.enable, AdminActKind.end_membership,
             AdminActKind.bind_device, AdminActKind.reset_factor)
#: acts that need two administrators whoever the target is (a second factor guards every staff account)
ANY_TARGET = (AdminActKind.reset_factor,)
REASON_MAX = 200
LIVE = (AdminRequestStatus.pending, AdminRequestStatus.approved)


def guard_admin_target(user: User, *, actor: Actor, what: str) -> None:
    """Refuse a lone administrator's act on an administrator's account (the console is exempt)."""
    if actor.is_system or not is_administrator(user):
        return
    raise PermissionDenied(DUAL_CONTROL.format(what=what), action="admin.dual_control")


def ttl() -> timedelta:
    return timedelta(hours=int(current_app.config["ADMIN_REQUEST_TTL_HOURS"]))


def is_lapsed(req: AdminRequest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    since = req.decided_at if req.status == AdminRequestStatus.approved else req.created_at
    return req.status in LIVE and since is not None and now - since > ttl()


def _actor_admin_role(actor: Actor):
    roles = {m.role for m in actor.memberships if m.role in ADMIN_ROLES}
    return next(iter(roles)) if len(roles) == 1 else None


def request_act(*, kind: AdminActKind | str, target: User, actor: Actor, reason: str,
                new_password: str | None = None, membership: Membership | None = None) -> AdminRequest:
    """One administrator asks for an act on another administrator's account."""
    from core.accounts.operations import check_password_history, check_password_policy, unit_names_of
    from core.accounts.passwords import hash_password

    kind = AdminActKind(kind)
    require(actor, ADMIN_REQUEST, target)
    role = _actor_admin_role(actor)
    if role is None:
        raise PermissionDenied("只有系统管理员、安全管理员或安全审计员可以提出申请", action=ADMIN_REQUEST)
    if actor.user_id == target.id:
        raise PermissionDenied("不能为自己的账户提出申请；修改自己的密码请到「我的账户」", action=ADMIN_REQUEST)
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["请填写申请理由"]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"理由不超过 {REASON_MAX} 个字"]
    if kind not in WEB_KINDS:
        errors["kind"] = ["该操作只能在服务器控制台执行"]
    if kind not in ANY_TARGET and not is_administrator(target):
        errors["username"] = ["该账户不是管理员账户，无须申请，请由系统管理员直接办理"]
    password_hash = None
    if kind == AdminActKind.reset_password:
        if not new_password:
            errors["password"] = ["请填写新密码"]
        else:
            try:
                check_password_policy(new_password, target.username, field="password",
                                      unit_names=unit_names_of(target))
                # checked now, while the plain password is at hand: approving applies only its hash
                check_password_history(target, new_password, field="password")
            except ValidationFailed as exc:
                errors.update(exc.errors)
            password_hash = hash_password(new_password)
    elif kind == AdminActKind.disable and not target.is_active:
        errors["kind"] = ["该账户已停用"]
    elif kind == AdminActKind.enable and target.is_active:
        errors["kind"] = ["该账户未停用"]
    elif kind == AdminActKind.bind_device and not has_permission(actor, "grid.bind"):
        # The requester carries a binding out by issuing the code on the binding page, which needs grid.bind.
        errors["kind"] = ["绑定微信的申请须由系统管理员提出（由其在批准后生成绑定码）"]
    elif kind == AdminActKind.reset_factor and not _has_factor(target):
        errors["kind"] = ["该账户尚未绑定动态口令验证器，无须重置"]
    elif kind == AdminActKind.end_membership and (membership is None or membership.user_id != target.id
                                                  or not membership.is_active):
        errors["membership_id"] = ["请选择该账户的一个有效岗位"]
    if not errors and db.session.scalar(select(AdminRequest.id).where(
            AdminRequest.target_user_id == target.id, AdminRequest.kind == kind,
            AdminRequest.status.in_(LIVE), AdminRequest.created_at > utcnow() - ttl())) is not None:
        errors["kind"] = ["该账户已有一份同类申请在办，请先处理或撤回"]
    if errors:
        raise ValidationFailed(errors)
    req = AdminRequest(kind=kind, status=AdminRequestStatus.pending, target=target, target_user_id=target.id,
                       membership=membership if kind == AdminActKind.end_membership else None,
                       requested_by_user_id=actor.user_id, requester_role=role, reason=reason,
                       password_hash=password_hash, channel=actor.channel[:8])
    db.session.add(req)
    db.session.flush()
    record(actor, "admin_request.created", req, changed=["kind", "target_user_id", "reason"])
    for approver in approvers_for(req):
        _announce(approver, req, f"{actor.name} 申请对管理员账户 {target.username} 执行「{req.kind_label}」，"
                                 f"请您审批：{reason}", "pending")
    logger.info("admin request %s (%s on user %s) by %s", req.id, kind, target.id, actor)
    return req


def _has_factor(user: User) -> bool:
    from core.accounts import factors

    return factors.factor_of(user) is not None


def approval_refusal(req: AdminRequest, actor: Actor) -> str | None:
    """Why ``actor`` may not decide on ``req`` (None: they are the third administrator)."""
    if actor.is_system:
        return None
    if actor.user_id == req.requested_by_user_id:
        return "不能批准或驳回自己提出的申请"
    if actor.user_id == req.target_user_id:
        return "不能批准或驳回针对自己账户的申请"
    excluded = {req.requester_role, *admin_roles(req.target)}
    if not ({m.role for m in actor.memberships if m.role in ADMIN_ROLES} - excluded):
        return "须由第三名管理员审批：审批人的岗位须与申请人和对象账户的岗位都不同"
    if not can(actor, ADMIN_REQUEST, req.target):
        return "该账户不在您的管辖范围内"
    return None


def _check_decider(req: AdminRequest, actor: Actor) -> None:
    require(actor, ADMIN_REQUEST, req.target)
    refusal = approval_refusal(req, actor)
    if refusal:
        raise PermissionDenied(refusal, action=ADMIN_REQUEST)
    if req.status != AdminRequestStatus.pending:
        raise ValidationFailed({"status": [f"该申请当前状态为「{req.status_label}」，不能再审批"]})
    if is_lapsed(req):
        raise ValidationFailed({"status": ["该申请已超过有效期，请重新提出"]})


def approve(req: AdminRequest, *, actor: Actor, note: str | None = None) -> AdminRequest:
    """The third administrator approves; the act is carried out at once (a device binding: by the requester,
    who issues the code next)."""
    _check_decider(req, actor)
    req.decided_by_user_id, req.decided_at = actor.user_id, utcnow()
    req.decision_note = (note or "").strip()[:REASON_MAX] or None
    req.status = AdminRequestStatus.approved
    record(actor, "admin_request.approved", req, changed=["status", "decided_by_user_id", "decided_at"])
    if req.kind != AdminActKind.bind_device:
        execute(req, actor=actor)
    requester = req.requested_by
    if requester is not None:
        _announce(requester, req, f"您对 {req.target.username} 的「{req.kind_label}」申请已由 {actor.name} 批准。",
                  "approved")
    return req


def reject(req: AdminRequest, *, actor: Actor, note: str) -> AdminRequest:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed({"note": ["请填写驳回理由"]})
    if len(note) > REASON_MAX:
        raise ValidationFailed({"note": [f"理由不超过 {REASON_MAX} 个字"]})
    _check_decider(req, actor)
    req.status, req.decided_by_user_id, req.decided_at = AdminRequestStatus.rejected, actor.user_id, utcnow()
    req.decision_note, req.password_hash = note, None
    record(actor, "admin_request.rejected", req, changed=["status", "decided_by_user_id", "decision_note"])
    if req.requested_by is not None:
        _announce(req.requested_by, req, f"您对 {req.target.username} 的「{req.kind_label}」申请已被驳回：{note}",
                  "rejected")
    return req


def cancel(req: AdminRequest, *, actor: Actor) -> AdminRequest:
    """The requester withdraws a request not yet carried out."""
    require(actor, ADMIN_REQUEST, req.target)
    if actor.user_id != req.requested_by_user_id:
        raise PermissionDenied("只有申请人可以撤回申请", action=ADMIN_REQUEST)
    if req.status not in LIVE:
        raise ValidationFailed({"status": [f"该申请当前状态为「{req.status_label}」，不能撤回"]})
    req.status, req.password_hash = AdminRequestStatus.cancelled, None
    record(actor, "admin_request.cancelled", req, changed=["status"])
    return req


def execute(req: AdminRequest, *, actor: Actor) -> None:
    """Carry out an approved request (or the console's break-glass). The act's own audit row follows."""
    from core.accounts import operations
    from core.accounts.memberships import _end

    target = req.target
    if req.kind == AdminActKind.reset_password:
        operations.apply_password_hash(target, req.password_hash, actor=actor)
    elif req.kind in (AdminActKind.disable, AdminActKind.enable):
        operations.apply_active(target, req.kind == AdminActKind.enable, actor=actor)
    elif req.kind == AdminActKind.end_membership:
        _end(req.membership, actor=actor)
    elif req.kind == AdminActKind.unlock:
        operations.unlock(target.username, actor=actor)
    elif req.kind == AdminActKind.reset_factor:
        from core.accounts import factors

        factors.reset(target, actor=actor)
    req.status, req.executed_at, req.password_hash = AdminRequestStatus.executed, utcnow(), None
    record(actor, "admin_request.executed", req, changed=["status", "executed_at"])
    who = f"由 {req.requested_by.username} 申请、{req.decided_by.username} 批准" if req.decided_by else "在服务器控制台"
    _announce(target, req, f"您的管理员账户已{who}执行「{req.kind_label}」。如有疑问请立即联系其他管理员。", "executed")
    logger.info("admin request %s executed by %s", req.id, actor)


def take_binding_approval(actor: Actor, target: User) -> AdminRequest | None:
    """The requester's approved, unlapsed bind_device request for ``target``, marked carried out (the caller
    issues the code in the same transaction); None when there is none."""
    if actor.is_system:
        return None
    rows = db.session.scalars(select(AdminRequest).where(
        AdminRequest.kind == AdminActKind.bind_device, AdminRequest.target_user_id == target.id,
        AdminRequest.requested_by_user_id == actor.user_id, AdminRequest.status == AdminRequestStatus.approved)
        .order_by(AdminRequest.id.desc()))
    req = next((r for r in rows if not is_lapsed(r)), None)
    if req is not None:
        req.status, req.executed_at = AdminRequestStatus.executed, utcnow()
        record(actor, "admin_request.executed", req, changed=["status", "executed_at"])
    return req


def has_binding_approval(actor: Actor, target: User) -> bool:
    rows = db.session.scalars(select(AdminRequest).where(
        AdminRequest.kind == AdminActKind.bind_device, AdminRequest.target_user_id == target.id,
        AdminRequest.requested_by_user_id == actor.user_id, AdminRequest.status == AdminRequestStatus.approved))
    return any(not is_lapsed(r) for r in rows)


def approvers_for(req: AdminRequest) -> list[User]:
    """Administrators who could approve: the third role, over the target's district, neither party."""
    from core.accounts.queries import users_holding

    excluded = {req.requester_role, *admin_roles(req.target)}
    roles = [r for r in ADMIN_ROLES if r not in excluded]
    units = {m.unit_id for m in req.target.memberships if m.role in ADMIN_ROLES and m.is_effective and m.unit_id}
    if not units and req.kind in ANY_TARGET:
        # A staff member's account: the administrators placed at any unit above their posts (a materialized
        # path names every ancestor's id).
        units = {int(part) for m in req.target.memberships if m.is_effective
                 for part in (m.place_path or "").strip("/").split("/") if part.isdigit()}
    if not roles or not units:
        return []
    return [u for u in users_holding(roles, unit_ids=units)
            if u.id not in (req.requested_by_user_id, req.target_user_id)]


def _announce(user: User, req: AdminRequest, body: str, step: str) -> None:
    hooks.announce("accounts.admin_request", user,
                   {"title": f"管理员操作{req.kind_label}", "body": body, "url": "/admin/requests",
                    "status": req.status_label},
                   key=f"admin-request:{req.id}:{step}:{user.id}")


# --- reads -----------------------------------------------------------------------------------------------------


def requests_query(actor: Actor):
    """Requests about accounts in the actor's jurisdiction for admin.request."""
    from core.accounts.queries import users_query

    reach = users_query(actor, ADMIN_REQUEST).with_only_columns(User.id)
    return select(AdminRequest).where(AdminRequest.target_user_id.in_(reach))


def list_requests(actor: Actor, *, limit: int = 200) -> list[AdminRequest]:
    return list(db.session.scalars(requests_query(actor).order_by(AdminRequest.id.desc()).limit(limit)))


def get_request_or_404(request_id, *, actor: Actor) -> AdminRequest:
    from core.errors import NotFound, as_id

    req = db.session.scalar(requests_query(actor).where(AdminRequest.id == as_id(request_id)))
    if req is None:
        raise NotFound()
    return req


def role_label(role) -> str:
    return ROLE_LABELS[role] if role else "服务器控制台"
