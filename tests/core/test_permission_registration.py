"""Permissions are registered by features (DESIGN.md §7, issue #11 item 2).

The effective permissions of every demo membership were recorded here before the kernel's role table
(``ROLE_PERMISSIONS`` and ``DESK_BY_TIER`` in core/auth/permissions.py) gave way to registrations by each
feature's ``permissions.py``: the table below is literal, one row per (role, tier of the membership's place),
and must stay exactly what it is. The demo holds every place ``core.accounts.memberships.validate_place``
allows (the center staff at the district and at a township), so every row is checked against real rows.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts.models import Role

R = Role

EXPECTED: dict[tuple[Role, str], frozenset[str]] = {
    (R.system_admin, "district"): frozenset({
        "account.self", "admin.access", "admin.request", "calendar.manage", "grid.bind", "notify.manage",
        "org.manage", "org.view", "token.revoke", "user.manage", "user.view"}),
    (R.security_admin, "district"): frozenset({
        "account.self", "admin.access", "admin.request", "membership.activate", "security.policy",
        "service_token.issue", "token.revoke", "user.unlock", "user.view"}),
    (R.auditor, "district"): frozenset({"account.self", "admin.access", "admin.request", "audit.read"}),
    (R.district_leader, "district"): frozenset({
        "account.self", "case.approve", "case.export", "case.note", "case.read", "case.reveal",
        "case.review_decide", "case.supervise", "desk.district", "org.view", "report.read"}),
    (R.center_staff, "district"): frozenset({
        "account.self", "case.assign", "case.evaluate", "case.evaluated", "case.export", "case.followup",
        "case.handle", "case.intake", "case.note", "case.read", "case.reveal", "case.review_request",
        "case.triage", "desk.district", "org.view"}),
    (R.center_staff, "township"): frozenset({
        "account.self", "case.assign", "case.evaluate", "case.evaluated", "case.export", "case.followup",
        "case.handle", "case.intake", "case.note", "case.read", "case.reveal", "case.review_request",
        "case.triage", "desk.township", "org.view"}),
    (R.department_head, "department"): frozenset({
        "account.self", "case.approve", "case.assign", "case.assignment_work", "case.evaluate",
        "case.evaluated", "case.export", "case.followup", "case.handle", "case.note", "case.read",
        "case.review_decide", "case.review_request", "case.triage", "desk.department"}),
    (R.department_liaison, "department"): frozenset({
        "account.self", "case.assign", "case.assignment_work", "case.evaluate", "case.evaluated",
        "case.followup", "case.handle", "case.note", "case.read", "case.review_request", "case.triage",
        "desk.department"}),
    (R.township_leader, "township"): frozenset({
        "account.self", "case.approve", "case.export", "case.note", "case.read", "case.reveal",
        "case.review_decide", "case.supervise", "desk.township", "org.view", "report.read"}),
    (R.township_staff, "township"): frozenset({
        "account.self", "case.assign", "case.evaluate", "case.evaluated", "case.export", "case.followup",
        "case.handle", "case.intake", "case.note", "case.read", "case.reveal", "case.review_request",
        "case.triage", "desk.township", "org.view"}),
    (R.village_head, "village"): frozenset({
        "account.self", "case.approve", "case.assign", "case.evaluate", "case.evaluated", "case.export",
        "case.followup", "case.handle", "case.intake", "case.note", "case.read", "case.review_decide",
        "case.review_request", "case.triage", "desk.village", "grid.bind", "org.view"}),
    (R.village_cadre, "village"): frozenset({
        "account.self", "case.evaluate", "case.evaluated", "case.followup", "case.handle", "case.intake",
        "case.note", "case.read", "desk.village", "grid.bind", "org.view"}),
    (R.grid_worker, "grid"): frozenset({
        "account.self", "case.evaluated", "case.followup", "case.intake", "case.note", "case.read", "desk.grid"}),
}


def test_every_demo_membership_holds_exactly_its_recorded_permissions(db, demo):
    from core.accounts.models import Membership
    from core.auth.permissions import membership_permissions
    from core.auth.registry import place_tier

    seen = set()
    memberships = list(db.session.scalars(select(Membership).order_by(Membership.id)))
    assert len(memberships) > 30
    for m in memberships:
        key = (m.role, place_tier(m))
        assert key in EXPECTED, f"a demo membership at a place this table does not know: {key}"
        assert membership_permissions(m) == EXPECTED[key], (m, sorted(membership_permissions(m) ^ EXPECTED[key]))
        seen.add(key)
    assert seen == set(EXPECTED)


def test_the_kernel_mechanism_names_no_permission(app):
    """core/auth/permissions.py holds the mechanism only: no string in it (docstrings included) names a
    registered permission or action — each feature declares its own."""
    import ast
    import re
    from pathlib import Path

    import core.auth.permissions as mechanism
    from core.auth.registry import registered_actions, registered_permissions

    names = set(registered_permissions()) | set(registered_actions())
    assert {"account.self", "case.read", "desk.grid", "grid.bind", "case.triage"} <= names
    tree = ast.parse(Path(mechanism.__file__).read_text(encoding="utf-8"))
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    named = sorted({name for text in strings for name in names
                    if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text)})
    assert not named, f"core/auth/permissions.py names features' permissions: {named}"
    assert not hasattr(mechanism, "ROLE_PERMISSIONS") and not hasattr(mechanism, "DESK_BY_TIER")


def test_every_registered_permission_is_declared_by_a_feature_module(app):
    """Each flat permission has a label and at least one role; desks bound to a tier say so."""
    from core.auth.registry import registered_permissions

    specs = registered_permissions()
    assert all(spec.label and spec.roles for spec in specs.values())
    assert {name: spec.tiers for name, spec in specs.items() if spec.tiers is not None} == {
        "desk.district": {"district"}, "desk.township": {"township"}, "desk.village": {"village"}}


def test_registering_a_name_again_is_a_no_op_with_the_same_grants_and_refused_with_others(app):
    """One declaration per name (core.auth.registry): init_app may run again (tests build several apps), so the
    same declaration is accepted; another one — other roles, tiers or label, or the other kind — is refused and
    the first stays in force, whatever the import order."""
    from core.auth import registry

    name = "zz_test.permission"
    try:
        registry.register_permission(name, "测试", (R.center_staff,), tiers=("district",))
        registry.register_permission(name, "测试", [R.center_staff], tiers=["district"])  # the same: no-op
        for roles, tiers, label in (((R.center_staff, R.auditor), ("district",), "测试"),
                                    ((R.center_staff,), None, "测试"),
                                    ((R.center_staff,), ("district",), "另一个")):
            with pytest.raises(registry.RegistrationConflict):
                registry.register_permission(name, label, roles, tiers=tiers)
        with pytest.raises(registry.RegistrationConflict):
            registry.register_action(name, "测试", registry.grant((R.center_staff,), {registry.HANDLING}))
        assert registry.registered_permissions()[name] == registry.PermissionSpec(
            name, "测试", frozenset({R.center_staff}), frozenset({"district"}))
        assert not registry.is_registered(name)
        spec = registry.action_spec("case.triage")
        registry.register_action("case.triage", spec.label, *spec.grants)  # the same: no-op
        with pytest.raises(registry.RegistrationConflict):
            registry.register_action("case.triage", spec.label, registry.grant((R.auditor,), {registry.HANDLING}))
        with pytest.raises(registry.RegistrationConflict):
            registry.register_permission("case.triage", spec.label, (R.center_staff,))
        assert registry.action_spec("case.triage") == spec and "case.triage" not in registry.registered_permissions()
    finally:
        registry._permissions.pop(name, None)
        registry._held_cache.clear()  # the memo of held names may hold the test's name


# --- one leaders_of(unit) ------------------------------------------------------------------------------------


def test_leaders_of_a_unit_are_its_tiers_leader_post_exactly_there(db, demo):
    from core.accounts.queries import leader_role, leaders_of

    def unit_of(username):
        return demo.user(username).memberships[0].unit

    assert (leader_role("district"), leader_role("township"), leader_role("village"), leader_role("grid")) == (
        R.district_leader, R.township_leader, R.village_head, None)
    assert {u.username for u in leaders_of(unit_of("leader.wang"))} == {"leader.wang", "leader.zhao"}
    assert {u.username for u in leaders_of(unit_of("qs.staff"))} == {"qs.leader", "qs.leader2"}
    assert [u.username for u in leaders_of(unit_of("qs01.cadre"))] == ["qs01.head"]
    assert leaders_of(unit_of("qs01.g1")) == []


# --- audit labels registered by the features ---------------------------------------------------------------------


def test_the_kernel_names_only_its_own_audit_actions_and_the_log_shows_every_feature_label(app, db):
    from core.audit.views import ACTION_LABELS, OBJECT_LABELS, action_labels, object_labels

    kernel = ("login", "logout", "permission.", "user.", "membership.", "admin_request.", "accounts.", "security.",
              "api_token.", "org.", "demo.", "calendar.")
    assert [a for a in ACTION_LABELS if not a.startswith(kernel)] == []
    assert not {"cases", "deliveries", "case_assignments", "notify_bindings"} & set(OBJECT_LABELS)
    # the same labels as when the kernel's dict named them all, one per registering feature module
    shown = action_labels()
    assert len(shown) >= 104 and len(object_labels()) >= 26
    assert {a: shown[a] for a in ("login", "calendar.day_set", "case.registered", "case.evaluate", "case.note",
                                  "case.supervision_2", "case.exported", "case.dispatch", "case.agent_filed",
                                  "case.document_approved", "case.follow_up", "api.token_refused", "notify.bound",
                                  "wechat.bind_proof")} == {
        "login": "登录", "calendar.day_set": "设置节假日", "case.registered": "登记事项", "case.evaluate": "评价",
        "case.note": "记录进展", "case.supervision_2": "超期督办", "case.exported": "导出事项清单",
        "case.dispatch": "派单至部门", "case.agent_filed": "网格员代办登记", "case.document_approved": "审批文书",
        "case.follow_up": "回访", "api.token_refused": "接口令牌被拒绝", "notify.bound": "绑定消息账号",
        "wechat.bind_proof": "微信绑定身份验证失败"}
    assert {o: object_labels()[o] for o in ("users", "cases", "case_assignments", "deliveries", "case_documents")} == {
        "users": "用户", "cases": "事项", "case_assignments": "部门派单", "deliveries": "消息投递",
        "case_documents": "文书"}


def test_the_audit_log_page_names_a_feature_action_with_its_registered_label(signed_in):
    page = signed_in("auditor").get("/admin/audit?action=case.registered")
    assert page.status_code == 200 and "登记事项" in page.get_data(as_text=True)
