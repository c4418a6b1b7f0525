"""Migration 0010clean: free text stored before the edge refused control characters is cleaned in place, so
the export and the pages read every row (the export test then proves the row exports)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from center.cases.models import Case, CaseEvent

MIGRATION = next(Path(__file__).resolve().parents[2].glob("migrations/versions/*_0010clean_*.py"))


def _module():
    spec = importlib.util.spec_from_file_location("m0010clean", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stored_control_characters_are_removed_and_the_rest_kept(db, demo):
    case = db.session.scalars(select(Case).order_by(Case.id)).first()
    event = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).first()
    conn = db.session.connection()
    conn.execute(text("UPDATE cases SET summary = :s, demands = :d WHERE id = :id"),
                 {"s": "反映\x07拖欠\x1b工资\t第一行\n第二行", "d": "补发\x0b工资", "id": case.id})
    conn.execute(text("UPDATE case_events SET note = :n WHERE id = :id"), {"n": "登记\x7f完成", "id": event.id})
    module = _module()
    with Operations.context(MigrationContext.configure(conn)):
        module.upgrade()
    db.session.expire_all()
    case, event = db.session.get(Case, case.id), db.session.get(CaseEvent, event.id)
    assert case.summary == "反映拖欠工资\t第一行\n第二行"  # tab and newline stay: text allows them
    assert case.demands == "补发工资" and event.note == "登记完成"


def test_the_pattern_covers_nul_surrogates_and_controls_but_not_text():
    dirty = _module().DIRTY
    for bad in ("\x00", "\ud800", "\udfff", "\x01", "\x1f", "\x7f", "\x0c"):
        assert dirty.search(f"a{bad}b"), repr(bad)
    for good in ("\t", "\n", "\r", "中文", "𠀀", "SF-2026-000123"):
        assert not dirty.search(good), repr(good)
