"""The mediation center's shared registry and the district desk."""


def init_app(app):
    from center.cases import models  # noqa: F401 - register the case registry's tables
    from center.desk import views
    from core import hooks

    app.register_blueprint(views.bp)
    from center.cases import demo

    hooks.register_demo_seeder("cases", demo.load)
    hooks.register_desk("desk.district", "区中心工作台", "center_desk.index", 10)
    hooks.register_desk("desk.department", "部门工作台", "center_desk.department", 15)
