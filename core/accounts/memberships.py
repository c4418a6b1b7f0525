"""Memberships under 三权分立: the system administrator *proposes* (creates and places accounts), the security
administrator *activates* or refuses (grants rights). A proposed membership grants nothing; nobody activates a
role for themselves, nor one they proposed; one account never holds two of the three administrator roles.

The server console (the system actor) may do both steps — the first administrators of an installation
(``flask accounts create-admin``) and the demo district are placed that way — and every step is audited.
Operations take the actor, check permission first, write their audit row and never commit.
"""

from __future__ import annotations

import logging

from core.accounts.models import ADMIN_ROLES, DEPARTMENT_ROLES, Membership, MembershipStatus, Role, User
from core.accounts.sessions import end_user_sessions_stmt
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.db import db, utcnow
from core.errors import PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

ACTIVATE = "membership.activate"
SELF_PROPOSAL = "不能为自己的账户提议岗位，请由另一名系统管理员办理"
SELF_ACTIVATION = "不能激活或拒绝自己的岗位，请由另一名安全管理员办理"
OWN_PROPOSAL = "不能激活或拒绝自己提议的岗位"
ADMIN_EXCLUSIVE = "系统管理员、安全管理员、安全审计员三个岗位不能由同一账户兼任"
NOTE_MAX = 200


def admin_roles(user: User, *, effective_only: bool = True) -> set[Role]:
    """The administrator roles an account holds (effective ones; or proposed ones too)."""
    wanted = (MembershipStatus.active,) if effective_only else (MembershipStatus.active, MembershipStatus.proposed)
    return {m.role for m in user.memberships if m.role in ADMIN_ROLES and m.status in wanted
            and (not effective_only or m.is_effective)}


def is_administrator(user: User) -> bool:
    return bool(admin_roles(user))


def validate_place(role: Role, place) -> None:
    """Each role sits at its tier (a grid worker at a grid, the administrators at the district …)."""
    from core.org.models import Department, OrgUnit

    if role in DEPARTMENT_ROLES and not isinstance(place, Department):
        raise ValidationFailed({"department_id": ["部门岗位须选择所属部门"]})
    if role not in DEPARTMENT_ROLES and not isinstance(place, OrgUnit):
        raise ValidationFailed({"unit_id": ["请选择所属单位"]})
    if role == Role.grid_worker and place.tier != "grid":
        raise ValidationFailed({"unit_id": ["网格员须分配到网格"]})
    if role in (Role.village_head, Role.village_cadre) and place.tier != "village":
        raise ValidationFailed({"unit_id": ["村(社区)岗位须分配到村或社区"]})
    if role in (Role.township_leader, Role.township_staff) and place.tier != "township":
        raise ValidationFailed({"unit_id": ["乡镇岗位须分配到乡镇/街道"]})
    if role in (Role.district_leader, *ADMIN_ROLES) and place.tier != "district":
        raise ValidationFailed({"unit_id": ["该岗位须分配到区/县"]})
    if role == Role.center_staff and place.tier not in ("district", "township"):
        raise ValidationFailed({"unit_id": ["中心受理员须分配到区或乡镇中心"]})


def _check_exclusive(user: User, role: Role, *, ignore: Membership | None = None) -> None:
    if role in ADMIN_ROLES:
        others = {m.role for m in user.memberships if m is not ignore and m.role in ADMIN_ROLES
                  and m.status in (MembershipStatus.active, MembershipStatus.proposed)}
        if others - {role}:
            raise ValidationFailed({"role": [ADMIN_EXCLUSIVE]})
        if user.is_service:
            raise ValidationFailed({"role": ["接口服务账户不能担任管理员岗位"]})


ADMIN_POST_CONSOLE_ONLY = ("系统管理员、安全管理员和安全审计员岗位只能在服务器控制台设立"
                           "（flask accounts create-admin），不能在网页上提议")


def propose_membership(user: User, *, role: Role, place, actor: Actor, _new_user: bool = False) -> Membership:
    """Place ``user`` at ``place`` (an OrgUnit, or a Department for department roles): proposed, not in force."""
    from core.org.models import Department, OrgUnit

    role = Role(role)
    require(actor, "user.manage", place)
    if not actor.is_system and user.id is not None and actor.user_id == user.id:
        raise PermissionDenied(SELF_PROPOSAL, action="user.manage")
    if not actor.is_system and role in ADMIN_ROLES:
        # The system administrator sets the first password of every account he creates: an administrator
        # post placed through the web would be his puppet, the "third administrator" approving his own
        # requests. The three posts are placed only on the server's console (flask accounts create-admin).
        raise PermissionDenied(ADMIN_POST_CONSOLE_ONLY, action="user.manage")
    validate_place(role, place)
    _check_exclusive(user, role)
    m = Membership(role=role, unit=place if isinstance(place, OrgUnit) else None,
                   department=place if isinstance(place, Department) else None,
                   status=MembershipStatus.proposed, proposed_by_user_id=actor.user_id)
    user.memberships.append(m)
    db.session.flush()
    if not _new_user:
        record(actor, "membership.proposed", m, changed=["role", "unit_id", "department_id", "status"])
    logger.info("membership %s proposed for user %s by %s", m.id, user.id, actor)
    return m


def _decide(m: Membership, *, actor: Actor) -> None:
    """What activating and refusing share: the security administrator over the place, never one's own
    membership or one's own proposal, and only while it is proposed."""
    require(actor, ACTIVATE, m.unit or m.department)
    if not actor.is_system:
        if actor.user_id == m.user_id:
            raise PermissionDenied(SELF_ACTIVATION, action=ACTIVATE)
        if m.proposed_by_user_id is not None and actor.user_id == m.proposed_by_user_id:
            raise PermissionDenied(OWN_PROPOSAL, action=ACTIVATE)
    if m.status != MembershipStatus.proposed:
        raise ValidationFailed({"status": [f"该岗位当前状态为「{m.status_label}」，不能再处理"]})


def activate_membership(m: Membership, *, actor: Actor) -> Membership:
    _decide(m, actor=actor)
    _check_exclusive(m.user, m.role, ignore=m)
    m.status = MembershipStatus.active
    m.decided_by_user_id = actor.user_id
    m.decided_at = utcnow()
    record(actor, "membership.activated", m, changed=["status", "decided_by_user_id", "decided_at"])
    logger.info("membership %s of user %s activated by %s", m.id, m.user_id, actor)
    return m


def refuse_membership(m: Membership, *, actor: Actor, note: str) -> Membership:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed({"note": ["请填写拒绝理由"]})
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [f"理由不超过 {NOTE_MAX} 个字"]})
    _decide(m, actor=actor)
    m.status = MembershipStatus.refused
    m.decided_by_user_id = actor.user_id
    m.decided_at = utcnow()
    m.decision_note = note
    record(actor, "membership.refused", m, changed=["status", "decided_by_user_id", "decided_at", "decision_note"])
    return m


def end_membership(m: Membership, *, actor: Actor) -> None:
    """The system administrator ends a membership (a proposed one is withdrawn the same way). Ending an active
    membership of an administrator is an act on that administrator: it needs dual control."""
    from core.accounts.dual_control import guard_admin_target

    require(actor, "user.manage", m.unit or m.department)
    if m.status == MembershipStatus.active:  # withdrawing a mere proposal takes nothing from anyone
        guard_admin_target(m.user, actor=actor, what="撤销管理员的岗位")
    _end(m, actor=actor)


def _end(m: Membership, *, actor: Actor) -> None:
    if m.status in (MembershipStatus.ended, MembershipStatus.refused):
        raise ValidationFailed({"status": ["该岗位已撤销"]})
    m.status = MembershipStatus.ended
    db.session.execute(end_user_sessions_stmt(m.user_id))  # permissions changed: sign in again
    record(actor, "membership.ended", m, changed=["status"])


def place_by_console(user: User, *, role: Role, place, actor: Actor) -> Membership:
    """Propose and activate in one step — the server console only (create-admin, the demo district), audited
    as both steps by the system actor."""
    if not actor.is_system:
        raise PermissionDenied("只有服务器控制台可以直接启用岗位", action=ACTIVATE)
    m = propose_membership(user, role=role, place=place, actor=actor)
    return activate_membership(m, actor=actor)


def console_membership(role: Role, place) -> Membership:
    """An active membership placed by the server console without a flush per row (the demo district's few
    hundred users): validated like any other; the caller records each activation once the rows have ids
    (``record_console_activations``)."""
    from core.org.models import Department, OrgUnit

    role = Role(role)
    validate_place(role, place)
    return Membership(role=role, unit=place if isinstance(place, OrgUnit) else None,
                      department=place if isinstance(place, Department) else None,
                      status=MembershipStatus.active, decided_at=utcnow())


def record_console_activations(memberships, *, actor: Actor) -> None:
    if not actor.is_system:
        raise PermissionDenied("只有服务器控制台可以直接启用岗位", action=ACTIVATE)
    for m in memberships:
        record(actor, "membership.activated", m, unit_id=m.unit_id, changed=["status", "decided_at"])
