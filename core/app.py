"""Application factory: config → extensions → FEATURES → errors → CLI. No queries, no scheduler here."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from flask import Flask

from core.config import INSTANCE_DIR, load_config

#: The feature packages, imported by name so the kernel never imports a feature statically.
FEATURES = ("notify", "center", "township", "village")

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: dict | None = None) -> Flask:
    from core import cli, error_pages, security, web_hooks
    from core.accounts.sessions import DatabaseSessionInterface
    from core.db import configure_engine_options
    from core.extensions import csrf, db, login_manager, migrate

    cfg = load_config(config)
    configure_engine_options(cfg)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), static_folder="static", template_folder="templates")
    app.config.update(cfg)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import core.models  # noqa: F401 - register kernel tables

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.session_interface = DatabaseSessionInterface()

    from core import home
    from core.accounts import admin_views, factor_views, request_views, token_views
    from core.accounts import views as account_views
    from core.audit import views as audit_views
    from core.org import views as org_views

    factor_views.init_app(app)
    for bp in (home.bp, account_views.bp, admin_views.bp, token_views.bp, token_views.own_bp, request_views.bp,
               org_views.bp, audit_views.bp):
        app.register_blueprint(bp)

    from core.accounts import permissions as account_permissions
    from core.audit import permissions as audit_permissions
    from core.org import permissions as org_permissions

    for kernel_permissions in (account_permissions, org_permissions, audit_permissions):
        kernel_permissions.init_app(app)  # like every feature's permissions.py (core.auth.registry)
    from core import scheduler

    scheduler.init_app(app)  # features register their jobs into its registry next
    from core import calendar as work_calendar

    work_calendar.init_app(app)
    from core import links

    links.init_app(app)  # before the features, which register their link actions
    from core import housekeeping

    housekeeping.init_app(app)
    from core.audit import cli as audit_chain

    audit_chain.init_app(app)  # the audit hash chain's jobs and `flask audit`
    for name in FEATURES:
        importlib.import_module(name).init_app(app)

    web_hooks.init_app(app)
    security.init_app(app)
    error_pages.init_app(app)
    cli.init_app(app)
    if app.config.get("CRYPTO_KEYS"):
        from core.crypto import _provider

        _provider(app.config["CRYPTO_KEYS"], app.config["BLIND_INDEX_KEY"])  # self-test: fail fast
    if app.config.get("PROXY_COUNT"):
        # X-Forwarded-For is believed only behind configured proxies, and only their hops: otherwise any
        # client could name the address the rate limits and the audit log see.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if app.config["AUDIT_GUARD"]:
        from core.audit import guard

        guard.enable()
    return app
