"""Township-center desk: views and templates that call center operations."""


def init_app(app):
    from core import hooks
    from township import permissions, views

    permissions.init_app(app)
    app.register_blueprint(views.bp)
    hooks.register_desk("desk.township", "乡镇工作台", "township.index", 20)
