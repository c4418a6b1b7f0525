"""Departments at the centers: dispatch of cases to resident, rotating and on-call departments (DOMAIN.md §1–2).

models.py (CaseAssignment and its statuses), operations.py (dispatch and each step), queries.py (scoped reads,
the desk's queues), duty.py (the rota's hook for rotating departments), panel.py (the case page's section),
views.py and schemas.py (the forms), demo.py (demo assignments). The department desk itself is
``center_desk.department`` (center/desk/views.py).
"""

EVENT_LABELS = {
    "dispatch": "派单至部门",
    "summons": "随驻召集",
    "summons_acknowledged": "召集已响应",
    "arrived": "随驻部门到达",
    "assignment_taken": "轮驻部门接办",
    "assignment_done": "部门办结反馈",
    "assignment_withdrawn": "撤回部门派单",
}


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    from center.cases import registry
    from center.departments import demo, permissions, views
    from center.departments.panel import panel_context
    from core import hooks

    permissions.init_app(app)
    app.register_blueprint(views.bp)
    registry.register_panel(25, "departments/_panel_assignments.html", panel_context)
    registry.register_event_labels(EVENT_LABELS)
    hooks.register_audit_labels({
        "case.dispatch": "派单至部门", "case.summons": "召集随驻部门", "case.summons_acknowledged": "部门响应召集",
        "case.arrived": "部门到达", "case.assignment_taken": "部门接办", "case.assignment_done": "部门办结反馈",
        "case.assignment_withdrawn": "撤回派单",
    }, {
        "case_assignments": "部门派单",
    })
    hooks.register_demo_seeder("departments", demo.load)
