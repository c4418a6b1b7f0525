"""Who may take each step on a case: the role × relation × action table, written as literal data (issue 9 §1).

Nothing here is derived from the registry under test (center.cases.permissions, core.auth.registry): every
expectation is a literal cell, written from DOMAIN.md §2 and the issue:

- decisions belong to the **handling organ**: the members at the case's handling unit, or — after 转送 — the
  department that is the organ (its liaison accepts, handles and drafts; its head approves and closes);
- **triage** (受理, 不予受理, 交办, 转送, 退回, 导入法定程序, 转人民调解, 重新办理, 包案/承办, 风险等级, 派单/召集/撤回) =
  the organ's staff: center_staff, township_staff, village_head, and the head or liaison of the organ
  department; **handle** (开始办理, 调解, 答复/出具调处结果, 上报, 起草文书, 送达, 记录调解) = those and the organ's
  village_cadre; **approve** (办结, 审批文书 — never the drafter —, 审核调解结果, 延期, 终结) = the organ's leader:
  district_leader at the district, township_leader at a township, village_head at a village, department_head
  of the organ department;
- the unit **above** sees, adds notes and 督办 (leaders only), and never decides; the **origin** adds notes and
  photos, makes follow-up visits (the grid worker's evaluation is recorded on a visit), asks for escalation;
  a **feedback-only** department (派单, 随驻召集) acknowledges, takes, records progress and submits its result,
  and decides nothing; the **owner leader** sees and 督办; the **filer** keeps sight; no relation → 404;
- 复查: the request is recorded by the organ or by the organ one level up (for a department's answer, its
  本级人民政府 — the district — is such an organ, 信访工作条例 Art. 35); on the platform the decision is its leader's,
  off it the handling side records it.

Cells: "allowed" · "403" (seen, not theirs; also a role that never holds the step, refused before the case is
loaded) · "404" (outside their sight) · "422" (the state machine or the rules of the step refuse it) ·
"no route" (the channel does not offer the step). Every cell that is not "allowed" also proves nothing changed
(tests/center/authority_spec.py: ``snapshot``) and that a 403 left exactly one denial in the audit log.
"""

from __future__ import annotations

import uuid

import pytest

from tests.center import authority_spec as spec
from tests.center.authority_cells import (  # noqa: E402
    BAD,
    NF,
    NR,
    OK,
    RELATIONS,  # noqa: E402
    F,
)
from tests.center.authority_rows_district import DISTRICT_ROWS  # noqa: E402

# 包案 and 风险等级 (assign_owner, regrade) are also the unit above's and the center's while a department is the
# organ: who owns a case and how serious it is is the higher tier's call too (领导包案), never the decision itself.


# --- the table: (subject, action, channels, {demo user: cell}) ---------------------------------------------------
# "form api": the same cell through the HTML form and through POST /api/v1/cases/<n>/transitions.
TABLE = [
    # ======== T.p.registered: a township petition just registered (the case page of P1) ========
    ("T.p.registered", "accept", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF, "xinfang.liaison": NF,
        "admin": F, "secadmin": F, "auditor": F}),
    ("T.p.registered", "not_accept", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    # 交办 goes down; a township's units below are villages, and a petition never goes to a village
    ("T.p.registered", "hand_down", "form api", {
        "qs.staff": BAD, "qs.center": BAD, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    # 转送 to 青石镇司法所: nobody in the demo works there, so nobody could receive it
    ("T.p.registered", "transfer", "form api", {
        "qs.staff": BAD, "qs.center": BAD, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.registered", "escalate", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.registered", "guide_to_legal", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.registered", "start", "form api", {"qs.staff": BAD, "qs.leader": F, "qs01.head": F}),
    ("T.p.registered", "return", "form api", {"qs.staff": BAD, "qs01.head": F}),
    ("T.p.registered", "dispatch", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF, "xinfang.liaison": NF, "admin": F}),
    ("T.p.registered", "summons", "form", {
        "qs.staff": OK, "qs.center": OK, "qs01.head": F, "center.li": F, "minzheng.liaison": NF}),
    ("T.p.registered", "assign_owner", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": OK, "leader.wang": F, "cg.staff": NF}),
    ("T.p.registered", "regrade", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": OK, "leader.wang": F, "cg.staff": NF}),
    ("T.p.registered", "draft", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.registered", "supervise", "form", {
        "qs.leader": OK, "leader.wang": OK, "qs.staff": F, "qs.center": F, "qs01.head": F, "qs01.cadre": F,
        "qs01.g1": F, "center.li": F, "cg.leader": NF}),
    ("T.p.registered", "note", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": OK, "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK,
        "center.li": OK, "leader.wang": OK, "cg.staff": NF, "xinfang.liaison": NF,
        "admin": F, "secadmin": F, "auditor": F}),
    ("T.p.registered", "note", "m", {"qs01.g1": OK, "qs01.cadre": OK, "cg.staff": NF}),
    ("T.p.registered", "upload", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": OK, "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK,
        "center.li": OK, "leader.wang": OK, "cg.staff": NF, "admin": F}),
    ("T.p.registered", "escalation_request", "m", {
        "qs01.g1": OK, "qs01.cadre": OK, "qs01.head": OK, "cg.staff": NF, "admin": F}),
    # channels that do not offer a step
    ("T.p.registered", "accept", "wechat", {"qs.staff": NR, "qs01.head": NR}),
    ("T.p.registered", "not_accept", "wechat", {"qs01.head": NR}),
    ("T.p.registered", "accept", "m", {"qs.staff": NR, "qs01.g1": NR}),
    ("T.p.registered", "dispatch", "api", {"qs.staff": NR}),
    ("T.p.registered", "note", "api", {"qs01.g1": NR}),
    ("T.p.registered", "supervise", "api", {"qs.leader": NR}),
    ("T.p.registered", "note", "wechat", {"qs01.g1": NR}),

    # ======== T.p.accepted ========
    ("T.p.accepted", "start", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.accepted", "refer_mediation", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "center.li": F, "cg.staff": NF}),
    # a petition has no 开始调解 (it is referred to people's mediation): refused before who asks matters
    ("T.p.accepted", "mediate", "form api", {"qs.staff": BAD, "qs01.head": BAD}),
    ("T.p.accepted", "close", "form api", {"qs.leader": BAD, "qs.staff": F}),
    ("T.p.accepted", "reopen", "form api", {"qs.staff": BAD, "qs01.head": F}),
    ("T.p.accepted", "extension", "form", {
        "qs.leader": OK, "qs.staff": F, "qs.center": F, "leader.wang": F, "qs01.head": F, "renshe.head": NF}),
    ("T.p.accepted", "supervise", "form", {"qs.leader": OK, "leader.wang": OK, "qs.staff": F, "cg.leader": NF}),
    ("T.p.accepted", "evaluation", "form", {"qs.staff": OK, "qs01.head": F, "center.li": F}),

    # ======== T.p.in_progress (答复 needs the approved answer: +approved) ========
    ("T.p.in_progress+approved", "answer", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.in_progress", "guide_to_legal", "form api", {"qs.staff": OK, "qs01.head": F}),
    ("T.p.in_progress", "draft", "form", {"qs.staff": OK, "qs.leader": F, "qs01.head": F, "center.li": F}),
    ("T.p.in_progress+approved", "answer", "wechat", {"qs.staff": NR}),
    ("T.p.in_progress+draft", "doc_approve", "form", {
        "qs.leader": OK, "qs.staff": F, "qs.center": F, "qs01.head": F, "center.li": F, "leader.wang": F,
        "renshe.head": NF}),
    ("T.p.in_progress+draft", "doc_approve", "api", {"qs.leader": NR}),
    ("T.p.in_progress+approved", "serve", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "center.li": F,
        "cg.staff": NF}),

    # ======== T.p.answered (answer approved and served) ========
    ("T.p.answered", "close", "form api", {
        "qs.leader": OK, "qs.staff": F, "qs.center": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.leader": NF}),
    ("T.p.answered", "close", "wechat", {"qs.leader": NR}),

    # ======== T.p.closed (the case page of P5) ========
    ("T.p.closed", "reopen", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.g1": F, "center.li": F,
        "leader.wang": F, "cg.staff": NF}),
    # 评价 and 终结 follow their record: the form has no such transition; the API refuses them without it
    ("T.p.closed", "evaluate", "form", {"qs.staff": NR, "qs01.head": NR}),
    # the origin may reach 评价 through a follow-up visit's record, so without a record it is 422 for it too
    ("T.p.closed", "evaluate", "api", {
        "qs.staff": BAD, "qs.center": BAD, "qs.leader": F, "qs01.head": BAD, "qs01.cadre": BAD, "qs01.g1": BAD,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.closed", "terminate", "form", {"qs.leader": NR, "leader.wang": NR}),
    ("T.p.closed", "terminate", "api", {
        "qs.leader": BAD, "qs.staff": F, "qs01.head": F, "center.li": F, "leader.wang": F, "cg.leader": NF}),
    ("T.p.closed", "evaluation", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.closed", "follow_up", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("T.p.closed", "follow_up", "m", {"qs01.g1": OK, "qs01.head": OK, "center.li": F, "cg.staff": NF}),
    ("T.p.closed", "follow_up_rated", "m", {"qs01.g1": OK}),
    ("T.p.closed", "review_request", "form", {
        "qs.staff": OK, "qs.center": OK, "center.li": OK, "qs.leader": F, "qs01.head": F, "qs01.g1": F,
        "leader.wang": F, "cg.staff": NF}),
    ("T.p.closed", "supervise", "form", {
        "qs.leader": OK, "leader.wang": OK, "qs.staff": F, "qs.center": F, "qs01.head": F, "qs01.g1": F,
        "center.li": F, "cg.leader": NF}),
    # a second service record of the approved answer (e.g. by registered mail after a direct attempt)
    ("T.p.closed", "serve", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.g1": F, "center.li": F}),
    ("T.p.closed", "assign_owner", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.g1": F, "center.li": OK}),
    ("T.p.closed", "regrade", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.g1": F, "center.li": OK}),
    ("T.p.closed", "note", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": OK, "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK,
        "center.li": OK, "leader.wang": OK}),
    ("T.p.closed", "upload", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": OK, "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK,
        "center.li": OK, "leader.wang": OK}),
    ("T.p.closed", "evaluation", "m", {"qs01.g1": NR}),
    # 复查 at 示范区 (on the platform): its leader decides; outside the platform the handling side records it
    ("T.p.closed+review", "review_decide", "form", {
        "leader.wang": OK, "center.li": F, "qs.leader": F, "qs.staff": F, "qs01.head": F, "cg.leader": NF}),
    # a 复查 of a township's answer is the district's (on the platform): it is never recorded as "outside"
    # (the township would then record its own review); the outside path belongs to the district's own answers
    ("D.p.closed+review_external", "review_decide", "form", {
        "center.li": OK, "leader.wang": F, "qs.staff": NF, "qs.leader": NF}),

    # ======== T.d: a township dispute ========
    ("T.d.registered", "hand_down", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "cg.staff": NF}),
    ("T.d.registered", "accept", "form api", {"qs.staff": OK, "qs01.head": F}),
    ("T.d.accepted", "mediate", "form api", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "cg.staff": NF}),
    ("T.d.mediating", "mediation_session", "form", {
        "qs.staff": OK, "qs.center": OK, "qs.leader": F, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F,
        "center.li": F, "cg.staff": NF}),
    ("T.d.mediating+session", "mediation_outcome", "form", {"qs.staff": OK, "qs01.head": F, "center.li": F}),
    ("T.d.mediating+outcome", "mediation_approve", "form", {
        "qs.leader": OK, "qs.staff": F, "qs01.head": F, "leader.wang": F, "cg.leader": NF}),
    # the leader approves; issuing the result (出具调处结果) is the worker's: not both in one step
    ("T.d.mediating+outcome", "mediation_approve_close", "form", {"qs.leader": F, "qs.staff": F}),

    # ======== Tf.p.in_progress: a township petition with 区信访局 dispatched and 区民政局 summoned ========
    ("Tf.p.in_progress+approved", "answer", "form api", {
        "qs.staff": OK, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F, "renshe.liaison": NF}),
    ("Tf.p.in_progress", "acknowledge", "form", {
        "minzheng.liaison": OK, "qs.staff": F, "qs01.head": F, "center.li": F, "xinfang.liaison": F,
        "renshe.liaison": NF}),
    ("Tf.p.in_progress", "arrive", "form", {
        "minzheng.liaison": OK, "qs.staff": OK, "qs.center": OK, "qs01.head": F, "center.li": F,
        "xinfang.liaison": F}),
    ("Tf.p.in_progress", "complete", "form", {
        "xinfang.liaison": OK, "xinfang.head": OK, "qs.staff": F, "minzheng.liaison": F, "center.li": F}),
    ("Tf.p.in_progress", "withdraw", "form", {
        "qs.staff": OK, "qs.center": OK, "xinfang.liaison": F, "qs01.head": F, "center.li": F, "qs.leader": F}),
    ("Tf.p.in_progress", "dispatch", "form", {"qs.staff": OK, "xinfang.liaison": F, "minzheng.liaison": F}),
    ("Tf.p.in_progress", "draft", "form", {"xinfang.liaison": F, "minzheng.liaison": F}),
    ("Tf.p.in_progress", "note", "form", {"minzheng.liaison": OK, "xinfang.head": OK}),
    ("Tf.p.in_progress", "acknowledge", "wechat", {"minzheng.liaison": NR}),

    # ======== V: a dispute the village handles ========
    ("V.d.registered", "accept", "form api", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F, "qs.center": F, "qs.leader": F,
        "center.li": F, "leader.wang": F, "cg.staff": NF}),
    ("V.d.registered", "not_accept", "form api", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.registered", "escalate", "form api", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F, "cg.staff": NF}),
    ("V.d.registered", "dispatch", "form", {"qs01.head": OK, "qs01.cadre": F, "qs.staff": F, "qs01.g1": F}),
    ("V.d.registered", "note", "form", {"qs01.g1": OK, "qs.staff": OK, "qs.leader": OK}),
    ("V.d.accepted", "start", "form api", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.accepted", "mediate", "form api", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.center": F, "qs.leader": F,
        "cg.staff": NF}),
    ("V.d.accepted", "supervise", "form", {"qs.leader": OK, "leader.wang": OK, "qs01.head": F, "qs.staff": F}),
    ("V.d.accepted", "assign_owner", "form", {"qs01.head": OK, "qs01.cadre": F, "qs.staff": OK, "qs01.g1": F}),
    ("V.d.accepted", "regrade", "form", {"qs01.head": OK, "qs.staff": OK}),
    # the case page of P4: mediating, a session with its outcome recorded, not yet approved
    ("V.d.mediating+outcome", "escalate", "form api", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "answer", "form api", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F, "cg.staff": NF}),
    ("V.d.mediating+outcome", "mediation_session", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "mediation_outcome", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "mediation_approve", "form", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "mediation_approve_close", "form", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "draft", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "evaluation", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "supervise", "form", {
        "qs.leader": OK, "qs01.head": F, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F}),
    ("V.d.mediating+outcome", "assign_owner", "form", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": OK, "qs.leader": F}),
    ("V.d.mediating+outcome", "regrade", "form", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": OK, "qs.leader": F}),
    ("V.d.mediating+outcome", "dispatch", "form", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F, "qs.leader": F}),
    ("V.d.mediating+outcome", "note", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK, "qs.staff": OK, "qs.leader": OK}),
    ("V.d.mediating+outcome", "upload", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK, "qs.staff": OK, "qs.leader": OK}),
    ("V.d.mediating+outcome", "escalation_request", "m", {"qs01.g1": OK}),
    ("V.d.mediating+draft_head", "doc_approve", "form", {"qs01.head": F, "qs.leader": F}),
    ("V.d.mediating+draft", "doc_approve", "form", {"qs01.head": OK, "qs01.cadre": F, "qs.leader": F}),
    ("V.d.answered", "close", "form api", {
        "qs01.head": OK, "qs01.cadre": F, "qs01.g1": F, "qs.staff": F, "qs.leader": F, "leader.wang": F}),
    ("V.d.closed", "follow_up", "form", {
        "qs01.head": OK, "qs01.cadre": OK, "qs01.g1": OK, "qs.staff": F, "qs.leader": F}),
    ("V.d.closed", "evaluation", "form", {"qs01.head": OK, "qs01.cadre": OK, "qs01.g1": F, "qs.staff": F}),
    ("V.d.closed", "reopen", "form api", {"qs01.head": OK, "qs01.cadre": F, "qs.staff": F}),

    *DISTRICT_ROWS,
]

# --- intake through the form, the API and the phone pages: (unit, channels, user, relation to it, cell) ---------
INTAKE = [
    ("青石镇", "form api", "qs.staff", "own unit", OK),
    ("青石村", "form api", "qs.staff", "below", OK),
    ("青石村第1网格", "form api", "qs.staff", "grid below (a township files at village level or above)", BAD),
    ("城关街道", "form api", "qs.staff", "outside", BAD),
    ("示范区", "form api", "qs.staff", "above", BAD),
    ("青石镇", "form api", "qs.center", "own unit", OK),
    ("青石村", "form api", "qs01.head", "own unit", OK),
    ("青石村第1网格", "form api", "qs01.head", "grid below", OK),
    ("上坝村", "form api", "qs01.head", "outside", BAD),
    ("青石村第1网格", "form api", "qs01.cadre", "grid below", OK),
    ("青石村第1网格", "form api", "qs01.g1", "own grid", OK),
    ("青石村第2网格", "form api", "qs01.g1", "outside", BAD),
    ("青石村", "form api", "qs01.g1", "above", BAD),
    ("示范区", "form api", "center.li", "own unit", OK),
    ("青石镇", "form api", "center.li", "below", OK),
    ("青石镇", "form api", "qs.leader", "own unit (a leader does not register)", F),
    ("示范区", "form api", "leader.wang", "own unit (a leader does not register)", F),
    ("示范区", "form api", "xinfang.liaison", "its center (a department receives, it does not register)", F),
    ("示范区", "form api", "minzheng.liaison", "its center", F),
    ("示范区", "form api", "admin", "none", F),
    ("示范区", "form api", "auditor", "none", F),
    ("青石村第1网格", "m", "qs01.g1", "own grid (代办)", OK),
    ("青石镇", "m", "qs.staff", "own unit (the phone pages are the grid worker's)", F),
]


def _expand():
    rows = []
    for subject, action, channels, cells in TABLE:
        family = subject.split(".")[0]
        for channel in channels.split():
            for user, cell in cells.items():
                relation = RELATIONS[family][user][0]
                rows.append(pytest.param(subject, action, channel, user, relation, cell,
                                         id=f"{subject}|{action}|{channel}|{user}({relation})={cell}"))
    return rows


ROWS = _expand()
INTAKE_ROWS = [pytest.param(unit, channel, user, relation, cell,
                            id=f"intake@{unit}|{channel}|{user}({relation.split(' ')[0]})={cell}")
               for unit, channels, user, relation, cell in INTAKE for channel in channels.split()]


# --- the cells -------------------------------------------------------------------------------------------------

SUCCESS = {"form": 302, "api": 200, "m": 302}


def expected_event(subject: spec.Subject, action: str) -> str:
    if action == "evaluation":
        return "evaluate" if subject.case.status == "closed" else "evaluation"
    return spec.EVENT[action]


@pytest.mark.parametrize(("subject_key", "action", "channel", "user", "relation", "cell"), ROWS)
def test_cell(app, db, demo, signed_in, subject_key, action, channel, user, relation, cell):
    subject = spec.build(demo, subject_key)
    client, token = (None, None) if channel == "wechat" else spec.sign_in(signed_in, user)
    request = spec.request_for(demo, subject, action, channel)
    case_id = subject.case.id
    expected_status_after = str(subject.case.status)
    event = expected_event(subject, action)
    before, denied = spec.snapshot(db, case_id), spec.denials(db)
    status, body = spec.send(client, token, request, user=demo.user(user))
    after = spec.snapshot(db, case_id)
    where = f"{action} via {channel} by {user} ({relation}) on {subject_key}"

    if cell == OK:
        assert status == SUCCESS[channel], f"{where}: expected allowed, got {status}: {spec.messages(body) or body[:300]}"
        events = spec.new_events(db, case_id, before)
        assert event in events, f"{where}: allowed but no {event} event ({events})"
        if action in spec.TRANSITIONS:
            assert spec.status_of(db, case_id) == spec.TARGET_STATUS[action], where
        if action in ("mediation_approve_close",):
            assert spec.status_of(db, case_id) == "closed", where
        assert spec.denials(db) == denied, f"{where}: allowed, yet a denial was audited"
        return

    if cell == NR:
        if channel == "wechat":
            from village.commands import HELP

            assert body == HELP, f"{where}: a WeChat command answered {body[:200]!r}"
        else:
            assert status in (404, 405), f"{where}: expected no route, got {status}: {spec.messages(body) or body[:300]}"
    else:
        assert status == int(cell), f"{where}: expected {cell}, got {status}: {spec.messages(body) or body[:300]}"
    assert spec.changes(before, after) == [], f"{where}: refused but changed {spec.changes(before, after)}"
    assert spec.status_of(db, case_id) == expected_status_after
    extra_denials = spec.denials(db) - denied
    assert extra_denials == (1 if cell == F else 0), f"{where}: {extra_denials} denial rows audited"


def _intake_request(demo, unit_name: str, channel: str, summary: str) -> spec.Request:
    unit = demo.unit(unit_name)
    key = uuid.uuid4().hex
    if channel == "api":
        return spec.Request("api", "/api/v1/cases", json={
            "origin_unit_id": unit.id, "kind": "dispute", "category": "其他", "channel": "visit", "summary": summary,
            "risk_colour": "yellow", "people_count": 1, "repeat_of": "none", "intake_key": key,
            "parties": [{"role": "applicant", "kind": "person", "name": "登记测试人"}]})
    if channel == "m":
        return spec.Request("m", "/m/file", data={
            "kind": "dispute", "name": "登记测试人", "phone": "13901010000", "summary": summary, "category": "其他",
            "people_count": "1", "consent": "true", "intake_key": key, "repeat_of": "none"})
    return spec.Request("form", "/cases/new", data={
        "kind": "dispute", "category": "其他", "channel": "visit", "origin_unit_id": str(unit.id), "summary": summary,
        "risk_colour": "yellow", "people_count": "1", "applicant_name": "登记测试人", "applicant_kind": "person",
        "intake_key": key, "repeat_of": "none"})


@pytest.mark.parametrize(("unit", "channel", "user", "relation", "cell"), INTAKE_ROWS)
def test_intake_cell(app, db, demo, signed_in, unit, channel, user, relation, cell):
    from sqlalchemy import select

    from center.cases.models import Case

    client, token = spec.sign_in(signed_in, user)
    summary = f"登记权限测试 {uuid.uuid4().hex[:8]}"
    before, denied = spec.snapshot(db, None), spec.denials(db)
    status, body = spec.send(client, token, _intake_request(demo, unit, channel, summary))
    after = spec.snapshot(db, None)
    where = f"intake at {unit} via {channel} by {user} ({relation})"
    made = db.session.scalar(select(Case).where(Case.summary.startswith(summary)))
    if cell == OK:
        assert status in ((201,) if channel == "api" else (302,)), f"{where}: got {status}: {spec.messages(body) or body[:300]}"
        assert made is not None and after["cases"] == before["cases"] + 1, where
        assert made.origin_unit.name == unit and made.filed_by_user_id == demo.user(user).id, where
        return
    assert status == int(cell), f"{where}: expected {cell}, got {status}: {spec.messages(body) or body[:300]}"
    assert made is None and spec.changes(before, after) == [], f"{where}: {spec.changes(before, after)}"
    assert spec.denials(db) - denied == (1 if cell == F else 0), where


# --- the table's own soundness ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(RELATIONS))
def test_each_user_holds_the_relation_the_table_names(app, db, demo, family):
    """The scenarios put each user in exactly the relation the rows name (resolved by the kernel)."""
    from core.actor import Actor
    from core.auth.registry import relations_of

    first = {"T": "T.p.registered", "Tf": "Tf.p.registered", "V": "V.d.registered", "D": "D.p.registered",
             "X": "X.p.handed_down", "E": "E.p.escalated", "A": "A.p.registered"}[family]
    case = spec.build(demo, first).case
    wrong = {}
    for user, (_label, expected) in RELATIONS[family].items():
        if expected is None:
            continue
        held = set()
        for m in Actor.for_user(demo.user(user)).memberships:
            held |= set(relations_of(m, case))
        if held != expected:
            wrong[user] = (sorted(held), sorted(expected))
    assert not wrong, f"{family}: users hold other relations than the table names: {wrong}"


def test_the_table_covers_every_action_and_every_named_user():
    actions = {action for _s, action, _c, _cells in TABLE}
    assert set(spec.TRANSITIONS) <= actions
    assert {"dispatch", "summons", "acknowledge", "arrive", "take", "complete", "withdraw", "draft", "doc_approve",
            "serve", "extension", "mediation_session", "mediation_outcome", "mediation_approve", "supervise", "note",
            "upload", "follow_up", "evaluation", "review_request", "review_decide", "escalation_request",
            "assign_owner", "regrade"} <= actions
    users = {user for *_x, cells in TABLE for user in cells} | {user for _u, _c, user, _r, _e in INTAKE}
    assert set(spec.USERS) <= users, set(spec.USERS) - users
    channels = {c for _s, _a, chans, _cells in TABLE for c in chans.split()}
    assert channels == {"form", "api", "m", "wechat"}
    for subject, _a, _c, cells in TABLE:
        family = subject.split(".")[0]
        assert set(cells) <= set(RELATIONS[family]), (subject, set(cells) - set(RELATIONS[family]))
