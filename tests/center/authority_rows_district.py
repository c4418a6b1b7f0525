"""Literal rows of the authority table for the district's cases (families D, X, E, A; see
tests/center/test_authority_table.py for the legend and the T/V families). Data only: no expectation here is
derived from the registry under test."""

from tests.center.authority_cells import BAD, NF, NR, OK, F  # noqa: F401 - the cell vocabulary

DISTRICT_ROWS = [
    # ======== D.p.registered: a red district petition with three departments joined ========
    ("D.p.registered", "accept", "form api", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "xinfang.head": F, "minzheng.liaison": F,
        "zhujian.liaison": F, "renshe.liaison": NF, "qs.staff": NF, "qs.leader": NF}),
    ("D.p.registered", "not_accept", "form api", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "minzheng.liaison": F, "qs.staff": NF}),
    ("D.p.registered", "transfer", "form api", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "xinfang.head": F, "minzheng.liaison": F,
        "renshe.liaison": NF, "renshe.head": NF}),
    ("D.p.registered", "hand_down", "form api", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "minzheng.liaison": F, "qs.staff": NF}),
    ("D.p.registered", "guide_to_legal", "form api", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "minzheng.liaison": F}),
    ("D.p.registered", "dispatch", "form", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "xinfang.head": F, "minzheng.liaison": F,
        "renshe.liaison": NF}),
    ("D.p.registered", "summons", "form", {"center.li": OK, "minzheng.liaison": F}),
    ("D.p.registered", "accept", "wechat", {"center.li": NR}),
    # the case page of P2: in progress, 区民政局 summoned, 区信访局 working, 区住建委 queued
    ("D.p.in_progress+approved", "answer", "form api", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F, "renshe.liaison": NF, "qs.staff": NF}),
    # nothing above the district on the platform
    ("D.p.in_progress", "escalate", "form api", {
        "center.li": BAD, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "refer_mediation", "form api", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "guide_to_legal", "form api", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "close", "form api", {"leader.wang": BAD, "minzheng.liaison": F, "xinfang.head": F}),
    ("D.p.in_progress", "dispatch", "form", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "acknowledge", "form", {
        "minzheng.liaison": OK, "center.li": F, "leader.wang": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F, "renshe.liaison": NF}),
    ("D.p.in_progress", "arrive", "form", {
        "minzheng.liaison": OK, "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "take", "form", {
        "zhujian.liaison": OK, "center.li": F, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F,
        "xinfang.head": F}),
    ("D.p.in_progress", "complete", "form", {
        "xinfang.liaison": OK, "xinfang.head": OK, "center.li": F, "leader.wang": F, "minzheng.liaison": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "withdraw", "form", {
        "center.li": OK, "leader.wang": F, "xinfang.liaison": F, "xinfang.head": F, "minzheng.liaison": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "draft", "form", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "extension", "form", {
        "leader.wang": OK, "center.li": F, "xinfang.head": F, "minzheng.liaison": F, "xinfang.liaison": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "supervise", "form", {
        "leader.wang": OK, "center.li": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F, "qs.leader": NF}),
    ("D.p.in_progress", "evaluation", "form", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "assign_owner", "form", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "regrade", "form", {
        "center.li": OK, "leader.wang": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "zhujian.liaison": F}),
    ("D.p.in_progress", "note", "form", {
        "center.li": OK, "leader.wang": OK, "minzheng.liaison": OK, "xinfang.liaison": OK, "xinfang.head": OK,
        "zhujian.liaison": OK, "renshe.liaison": NF, "qs.staff": NF}),
    ("D.p.in_progress", "upload", "form", {
        "center.li": OK, "leader.wang": OK, "minzheng.liaison": OK, "xinfang.liaison": OK, "xinfang.head": OK,
        "zhujian.liaison": OK}),
    ("D.p.in_progress+approved", "answer", "wechat", {"minzheng.liaison": NR}),
    ("D.p.in_progress+approved", "answer", "m", {"minzheng.liaison": NR}),
    ("D.p.in_progress", "complete", "api", {"xinfang.liaison": NR}),
    ("D.p.in_progress+draft", "doc_approve", "form", {
        "leader.wang": OK, "center.li": F, "xinfang.head": F, "qs.leader": NF, "renshe.head": NF}),
    ("D.p.in_progress+approved", "serve", "form", {
        "center.li": OK, "xinfang.liaison": F, "minzheng.liaison": F, "leader.wang": F}),
    ("D.p.answered", "close", "form api", {
        "leader.wang": OK, "center.li": F, "minzheng.liaison": F, "xinfang.liaison": F, "xinfang.head": F,
        "qs.leader": NF}),
    ("D.p.closed", "terminate", "api", {"leader.wang": BAD, "center.li": F, "xinfang.head": F, "qs.leader": NF}),
    ("D.p.closed", "evaluate", "api", {"center.li": BAD, "leader.wang": F, "minzheng.liaison": F}),
    ("D.p.closed", "follow_up", "form", {"center.li": OK, "minzheng.liaison": F, "xinfang.liaison": F}),
    ("D.p.closed", "evaluation", "form", {"center.li": OK, "minzheng.liaison": F}),
    ("D.p.closed", "review_request", "form", {"center.li": OK, "leader.wang": F, "xinfang.liaison": F}),

    # ======== X: transferred to 区人社局, the competent organ ========
    ("X.p.handed_down", "accept", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F, "xinfang.liaison": NF,
        "qs.staff": NF}),
    ("X.p.handed_down", "not_accept", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F}),
    ("X.p.handed_down", "return", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F, "xinfang.liaison": NF}),
    # the organ answers or sends back; it does not move the case between units or to another department
    ("X.p.handed_down", "transfer", "form api", {"renshe.liaison": BAD, "center.li": F}),
    ("X.p.handed_down", "hand_down", "form api", {"renshe.liaison": BAD, "center.li": F}),
    ("X.p.handed_down", "escalate", "form api", {"renshe.liaison": BAD, "center.li": F}),
    ("X.p.handed_down", "guide_to_legal", "form api", {"renshe.liaison": BAD, "center.li": F}),
    ("X.p.handed_down", "dispatch", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F}),
    ("X.p.handed_down", "assign_owner", "form", {"renshe.liaison": OK, "center.li": OK, "leader.wang": F}),
    # the case page of P3: accepted by the department
    ("X.p.accepted", "start", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F, "xinfang.liaison": NF}),
    ("X.p.accepted", "refer_mediation", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F}),
    ("X.p.accepted", "guide_to_legal", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F}),
    ("X.p.accepted", "escalate", "form api", {"renshe.liaison": BAD, "center.li": F}),
    ("X.p.accepted", "dispatch", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F}),
    ("X.p.accepted", "draft", "form", {"renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F}),
    ("X.p.accepted", "extension", "form", {
        "renshe.head": OK, "renshe.liaison": F, "center.li": F, "leader.wang": F}),
    ("X.p.accepted", "supervise", "form", {
        "leader.wang": OK, "center.li": F, "renshe.liaison": F, "renshe.head": F}),
    ("X.p.accepted", "evaluation", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": OK, "leader.wang": F}),
    ("X.p.accepted", "assign_owner", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": OK, "leader.wang": F}),
    ("X.p.accepted", "regrade", "form", {"renshe.liaison": OK, "renshe.head": OK, "center.li": OK, "leader.wang": F}),
    ("X.p.accepted", "note", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": OK, "leader.wang": OK, "xinfang.liaison": NF}),
    ("X.p.accepted", "upload", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": OK, "leader.wang": OK}),
    ("X.p.in_progress+approved", "answer", "form api", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": F, "leader.wang": F, "xinfang.liaison": NF}),
    ("X.p.in_progress+draft", "doc_approve", "form", {
        "renshe.head": OK, "leader.wang": F, "center.li": F, "xinfang.head": NF}),
    ("X.p.in_progress+draft_head", "doc_approve", "form", {"renshe.head": F}),
    ("X.p.in_progress+approved", "serve", "form", {"renshe.liaison": OK, "renshe.head": OK, "center.li": F}),
    ("X.p.answered", "close", "form api", {
        "renshe.head": OK, "renshe.liaison": F, "center.li": F, "leader.wang": F, "xinfang.head": NF}),
    ("X.p.closed", "reopen", "form api", {"renshe.liaison": OK, "center.li": F}),
    ("X.p.closed", "terminate", "api", {"renshe.head": BAD, "leader.wang": F}),
    ("X.p.closed", "evaluate", "api", {"renshe.liaison": BAD, "center.li": BAD, "leader.wang": F}),
    ("X.p.closed", "follow_up", "form", {"renshe.liaison": OK, "center.li": OK, "leader.wang": F}),
    ("X.p.closed", "evaluation", "form", {"renshe.liaison": OK, "center.li": OK, "leader.wang": F}),
    ("X.p.closed", "review_request", "form", {
        "renshe.liaison": OK, "renshe.head": OK, "center.li": OK, "leader.wang": F}),

    # ======== E: escalated from 青石镇 to the district, qs.leader its owner leader ========
    ("E.p.escalated", "accept", "form api", {
        "center.li": OK, "leader.wang": F, "qs.leader": F, "qs.staff": F, "qs01.head": NF}),
    ("E.p.escalated", "not_accept", "form api", {"center.li": OK, "qs.staff": F}),
    ("E.p.escalated", "supervise", "form", {"qs.leader": OK, "leader.wang": OK, "qs.staff": F}),
    ("E.p.escalated", "note", "form", {"qs.leader": OK, "qs.staff": OK, "qs01.head": NF}),
    ("E.p.escalated", "assign_owner", "form", {"center.li": OK, "qs.staff": F, "qs.leader": F}),

    # ======== A: a 检举控告 petition against 青石村 (its filer keeps sight; the accused unit sees nothing) ========
    ("A.p.registered", "accept", "form api", {"qs.staff": OK, "qs01.cadre": F, "qs01.head": NF, "qs01.g1": NF}),
    ("A.p.registered", "note", "form", {"qs01.cadre": OK, "qs01.head": NF}),
    ("A.p.registered", "supervise", "form", {"qs.leader": OK}),
]
