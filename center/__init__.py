"""The mediation center's shared registry and the district desk."""

#: Modules with their own ``init_app(app)``, called in this order after the case registry itself: each adds
#: its blueprint, case-page panels, jobs and demo seeder (demo seeders run in this order, after "cases").
CASE_MODULES = (
    "center.cases.intake.views",
    "center.departments",
    "center.cases.routing.notices",
    "center.cases.documents.views",
    "center.cases.aftercare.views",
    "center.cases.attachments.views",
    "center.cases.supervision.jobs",
    "center.cases.listing.views",
    "center.api",
    "center.cases.card",
)


def init_app(app):
    import importlib

    from center.cases import (
        models,  # noqa: F401 - register the case registry's tables
        permissions,
    )
    from center.desk import permissions as desk_permissions
    from center.desk import views
    from core import hooks

    permissions.init_app(app)
    desk_permissions.init_app(app)
    from center.cases import reach
    from center.cases.listing import terms

    reach.install()  # the scope table follows every flush that moves a case
    terms.install()  # and the search grams every flush that writes a summary or a party
    app.register_blueprint(views.bp)
    from center.cases import views as case_views

    app.register_blueprint(case_views.bp)
    from center.cases import demo

    hooks.register_demo_seeder("cases", demo.load)
    from center.cases.lifecycle.recompute import recompute_provisional

    hooks.register_holiday_change_handler(recompute_provisional)
    hooks.register_desk("desk.district", "区中心工作台", "center_desk.index", 10)
    hooks.register_desk("desk.department", "部门工作台", "center_desk.department", 15)
    for name in CASE_MODULES:
        importlib.import_module(name).init_app(app)
