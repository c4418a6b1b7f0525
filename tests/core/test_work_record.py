"""The work record (core.work.timeline): one ``log`` writes a subject's event and its audit row together, and no
feature builds a case's event row by hand (issue #11 item 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.work import timeline

ROOT = Path(__file__).resolve().parents[2]


def test_no_feature_builds_a_case_event_by_hand():
    """Every CaseEvent comes from timeline.log: the only constructor call is the factory registered beside the
    model (center/cases/models/case.py)."""
    calls = []
    for package in ("center", "village", "township", "notify", "core"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "CaseEvent"):
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [c.split(":")[0] for c in calls] == ["center/cases/models/case.py"], calls


def _audit_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


def test_log_writes_the_event_and_its_audit_row(db, demo):
    from center.cases.intake.operations import register_case

    actor = demo.actor("qs.staff")
    case = register_case(actor, kind="dispute", summary="工作记录测试：排水纠纷", category="其他", channel="visit",
                         origin_unit=demo.unit("青石镇"), repeat_of="none",
                         parties=[{"role": "applicant", "kind": "person", "name": "记录测试人"}])
    before = _audit_count(db)
    event = timeline.log(case, "note", actor=actor, note="到现场查看", changed=["note"])
    assert event.id is not None and event.case_id == case.id and event.actor_user_id == actor.user_id
    assert (event.action, event.note, event.changed_fields) == ("note", "到现场查看", ["note"])
    assert _audit_count(db) == before + 1
    row = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (row.action, row.object_type, row.object_id, row.unit_id, row.changed_fields) == (
        "case.note", "cases", str(case.id), case.handling_unit_id, ["note"])

    quiet = timeline.log(case, "attachment", actor=actor, changed=["attachments"], audit=timeline.NO_AUDIT)
    assert quiet.id is not None and _audit_count(db) == before + 1
    named = timeline.log(case, "mediation_session", actor=actor, changed=["a", "b"], audit="case.other",
                         audit_changed=["c"])
    row = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert named.changed_fields == ["a", "b"] and (row.action, row.changed_fields) == ("case.other", ["c"])


def test_a_subject_nobody_registered_is_refused(db, demo):
    with pytest.raises(TypeError):
        timeline.log(demo.unit("青石镇"), "note", actor=demo.actor("qs.staff"))
