"""The mediation center's shared registry and the district desk."""


def init_app(app):
    from center.cases import models  # noqa: F401 - register the case registry's tables
    from center.desk import views
    from core import hooks

    app.register_blueprint(views.bp)
    from center.cases import views as case_views

    app.register_blueprint(case_views.bp)
    from center.cases import demo

    hooks.register_demo_seeder("cases", demo.load)
    from center.cases.recompute import recompute_provisional

    hooks.register_holiday_change_handler(recompute_provisional)
    hooks.register_desk("desk.district", "区中心工作台", "center_desk.index", 10)
    hooks.register_desk("desk.department", "部门工作台", "center_desk.department", 15)
