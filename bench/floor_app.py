"""The gunicorn app of bench/web.py: the real application, built exactly as wsgi.py builds it, plus a
bench-only blueprint that gives the floor behind the same stack (server-side session, login, route guard,
CSRF, the request transaction). Never imported by the application; never registered in it.

    gunicorn -w 2 bench.floor_app:app      (bench/web.py starts it; run from the repository root)

- ``GET /bench/floor``: signed-in only (``@permission("account.self")``, which every role holds), one indexed
  ``SELECT id, number FROM cases ORDER BY id DESC LIMIT 25``, a tiny HTML page;
- ``POST /bench/insert``: signed-in, CSRF-checked like every form (the ``csrf_token`` field), guarded by
  ``@permission("case.intake")`` like the intake form; inserts one bare row into ``bench_inserts`` (a scratch
  table created here, outside the project's schema) and commits — BEGIN IMMEDIATE on SQLite, as any POST.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from core.app import create_app
from core.auth.decorators import permission
from core.db import db, utcnow, write_intent
from core.web import commit

bp = Blueprint("bench", __name__, url_prefix="/bench")

FLOOR_SQL = text("SELECT id, number FROM cases ORDER BY id DESC LIMIT 25")
INSERT_SQL = text("INSERT INTO bench_inserts (at, note) VALUES (:at, :note)")
DDL = {
    "sqlite": "CREATE TABLE IF NOT EXISTS bench_inserts (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
              " note TEXT)",
    "postgresql": "CREATE TABLE IF NOT EXISTS bench_inserts (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL,"
                  " note TEXT)",
}


@bp.route("/floor")
@permission("account.self")
def floor():
    rows = db.session.execute(FLOOR_SQL).all()
    items = "".join(f"<li>{row.id} {escape(row.number)}</li>" for row in rows)
    return f"<!doctype html><title>floor</title><ul>{items}</ul>"


@bp.route("/insert", methods=["POST"])
@permission("case.intake")
def insert():
    db.session.execute(INSERT_SQL, {"at": utcnow().isoformat(), "note": "bench"})
    commit()
    return "ok", 201


def _create_table(flask_app) -> None:
    with flask_app.app_context(), write_intent(), db.engine.begin() as conn:
        conn.exec_driver_sql(DDL[conn.dialect.name])
    with flask_app.app_context():
        db.engine.dispose()


# As wsgi.py: the factory, then the one trusted proxy; the bench blueprint in between.
app = create_app()
app.register_blueprint(bp)
_create_table(app)
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
