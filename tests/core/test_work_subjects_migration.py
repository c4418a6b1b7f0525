"""Migration 0013work on a database that already holds cases (on the engine under test): every case gets its
own work subject, every event and deadline points to its case's subject, a case filed afterwards gets a fresh
one (the PostgreSQL sequence continues past the copied ids), and downgrading removes it all again."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import inspect, text

from tests.core.test_migrations import empty_app  # noqa: F401 -- fixture

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _seed(conn) -> None:
    conn.execute(text("INSERT INTO org_units (id, kind, code, name, path, depth, is_active, created_at, updated_at) "
                      "VALUES (1, 'district', 'D1', '测试区', '/1/', 0, :t, :now, :now)"), {"t": True, "now": NOW})
    for case_id in (7, 9):
        conn.execute(text(
            "INSERT INTO cases (id, number, kind, category, channel, summary, people_count, risk_colour, status, "
            "received_at, origin_unit_id, handling_unit_id, created_at, updated_at) VALUES (:id, :number, "
            "'dispute', '其他', 'visit', '迁移测试', 1, 'blue', 'registered', :now, 1, 1, :now, :now)"),
            {"id": case_id, "number": f"SF-2026-{case_id:06d}", "now": NOW})
        for n in range(2):
            conn.execute(text("INSERT INTO case_events (case_id, at, action, changed_fields) "
                              "VALUES (:c, :now, 'register', '[]')"), {"c": case_id, "now": NOW})
        conn.execute(text(
            "INSERT INTO case_deadlines (case_id, rule, started_on, due_on, paused_days, provisional, "
            "supervision_level, created_at, updated_at, kind) VALUES (:c, 'notice', :s, :d, 0, :f, 0, :now, :now, "
            "'duty')"), {"c": case_id, "s": date(2026, 11, 2), "d": date(2026, 11, 17), "f": False, "now": NOW})


def test_existing_cases_events_and_deadlines_get_their_subjects(empty_app):  # noqa: F811
    from flask_migrate import downgrade, upgrade

    from core.db import db

    with empty_app.app_context():
        upgrade(revision="0012clock")
        with db.engine.begin() as conn:
            _seed(conn)
        upgrade(revision="0013work")
        with db.engine.begin() as conn:
            subjects = conn.execute(text("SELECT id, kind FROM work_subjects ORDER BY id")).all()
            assert [tuple(r) for r in subjects] == [(7, "case"), (9, "case")]
            assert [tuple(r) for r in conn.execute(text("SELECT id, subject_id FROM cases ORDER BY id"))] == [
                (7, 7), (9, 9)]
            for table in ("case_events", "case_deadlines"):
                orphans = conn.execute(text(
                    f"SELECT count(*) FROM {table} t JOIN cases c ON c.id = t.case_id "  # noqa: S608
                    "WHERE t.subject_id IS NULL OR t.subject_id != c.subject_id")).scalar()
                assert orphans == 0, table
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() in (2, 4)  # noqa: S608
            # the next subject is numbered after the copied ones (PostgreSQL: the sequence was moved on)
            conn.execute(text("INSERT INTO work_subjects (kind, created_at) VALUES ('case', :now)"), {"now": NOW})
            assert conn.execute(text("SELECT max(id) FROM work_subjects")).scalar() == 10
        downgrade(revision="0012clock")
        with db.engine.connect() as conn:
            assert "work_subjects" not in inspect(conn).get_table_names()
            assert "subject_id" not in {c["name"] for c in inspect(conn).get_columns("cases")}
            assert conn.execute(text("SELECT count(*) FROM case_events")).scalar() == 4


def test_a_new_case_and_its_rows_share_one_new_subject(db, demo):
    from sqlalchemy import select

    from center.cases.intake.operations import register_case
    from core.work.models import WorkSubject

    case = register_case(demo.actor("qs.staff"), kind="petition", petition_class="appeal", summary="主体测试",
                         category="其他", channel="visit", origin_unit=demo.unit("青石镇"), repeat_of="none",
                         parties=[{"role": "applicant", "kind": "person", "name": "主体测试人"}])
    db.session.flush()
    subject = db.session.get(WorkSubject, case.subject_id)
    assert subject is not None and subject.kind == "case"
    assert case.events and {e.subject_id for e in case.events} == {case.subject_id}
    assert case.deadlines and {d.subject_id for d in case.deadlines} == {case.subject_id}
    others = db.session.scalar(select(WorkSubject.id).where(WorkSubject.id != subject.id).limit(1))
    assert others is not None  # the demo's cases have theirs: one each, never shared
    from center.cases.models import Case

    assert db.session.scalar(select(Case.id).where(Case.subject_id == subject.id)) == case.id
