"""Migrations on the engine under test: upgrade from an empty database, no autogenerate diff against the
models, downgrade to base and up again; revision files are date-prefixed and form one line."""

from __future__ import annotations

import ast
import re
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests import dbutil
from tests.conftest import make_app

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


@pytest.fixture()
def empty_app(tmp_path):
    url = dbutil.fresh_database_url(tmp_path)
    application = make_app(url)
    yield application
    from core.db import db

    with application.app_context():
        db.engine.dispose()
    dbutil.drop_database(url)


def _diff(db):
    with db.engine.connect() as conn:
        # Configured like migrations/env.py (Flask-Migrate passes compare_type and render_as_batch).
        from core.db import include_object

        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True,
                                                         "target_metadata": db.metadata,
                                                         "include_object": include_object})
        return compare_metadata(context, db.metadata)


def _tables(db) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _audit_triggers(db) -> set[str]:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                                     "AND tgrelid = 'audit_entries'::regclass"))
        else:
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND tbl_name = 'audit_entries'"))
        return {r[0] for r in rows}


def test_upgrade_from_empty_matches_models_and_downgrades(empty_app):
    from flask_migrate import downgrade, upgrade

    from core.db import db

    with empty_app.app_context():
        assert _tables(db) == set()
        upgrade()
        model_tables = set(db.metadata.tables)
        assert model_tables <= _tables(db), model_tables - _tables(db)
        assert _diff(db) == []
        assert _audit_triggers(db)  # append-only is part of the schema, not only of create_all
        with db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == _head()

        downgrade(revision="base")
        assert _tables(db) <= {"alembic_version"}

        upgrade()
        assert model_tables <= _tables(db)
        assert _diff(db) == []
        assert _audit_triggers(db)


def _head() -> str:
    from alembic.script import ScriptDirectory
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migrations must form one line, found heads {heads}"
    return heads[0]


def test_single_head(empty_app):
    with empty_app.app_context():
        _head()


NAME = re.compile(r"^(\d{8})_(\d{4})_[0-9a-z]+_[0-9a-z_]+\.py$")


def test_revision_files_are_date_prefixed():
    files = sorted(p.name for p in VERSIONS.glob("*.py"))
    assert files
    for name in files:
        match = NAME.match(name)
        assert match, f"{name}: expected YYYYMMDD_HHMM_<rev>_<slug>.py"
        datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M")  # a real date and time
    # Date prefixes sort in creation order, so a listing reads as the history.
    order, downs = [], {}
    for name in files:
        rev, down = _revision_of(VERSIONS / name)
        order.append(rev)
        downs[rev] = down
    for rev, down in downs.items():
        for parent in down:
            assert parent in downs and order.index(parent) < order.index(rev), (rev, parent)


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]]:
    values = {}
    for node in ast.parse(path.read_text("utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in ("revision", "down_revision")):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    down = values.get("down_revision")
    down = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    return values["revision"], down
