"""Village cadre desk, the grid worker's phone pages (/m/), their WeChat binding, commands and notices."""


def init_app(app):
    from core import hooks
    from village import permissions, views

    permissions.init_app(app)
    app.register_blueprint(views.bp)
    from village import commands, grid_workers, mobile

    app.register_blueprint(grid_workers.bp)
    app.register_blueprint(mobile.bp)
    commands.init_app(app)
    from village import notices

    notices.init_app(app)
    from center.cases.registry import register_event_labels

    register_event_labels({"agent_consent": "代办委托", "escalation_requested": "网格员申请上报"})
    hooks.register_audit_labels({
        "case.agent_filed": "网格员代办登记", "case.escalation_requested": "申请上报",
    })
    from village import demo

    hooks.register_demo_seeder("village", demo.load)
    hooks.register_desk("desk.village", "村(社区)工作台", "village.index", 30)
    hooks.register_desk("desk.grid", "网格员", "mobile.home", 40)
