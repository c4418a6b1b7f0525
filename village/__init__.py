"""Village cadre desk and the grid worker's mobile pages (WeChat command handlers arrive with issue 5)."""


def init_app(app):
    from core import hooks
    from village import views

    app.register_blueprint(views.bp)
    from village import commands, grid_workers, mobile

    app.register_blueprint(grid_workers.bp)
    app.register_blueprint(mobile.bp)
    commands.init_app(app)
    from village import notices

    notices.init_app(app)
    hooks.register_desk("desk.village", "村(社区)工作台", "village.index", 30)
    hooks.register_desk("desk.grid", "网格员", "mobile.home", 40)
