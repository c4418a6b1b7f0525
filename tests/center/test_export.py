"""The .xlsx export of the filtered list: Chinese header, one row per case, the applicant's phone and ID number
masked unless the user may reveal that case, every export audited (filters and row count, no personal data),
and no foreign row — the 检举控告 case is absent for the accused unit's users."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from center.cases.intake.operations import reveal
from center.cases.listing.export import HEADER
from center.cases.models import Case
from center.cases.queries import cases_query
from core.audit.models import AuditEntry
from core.crypto import mask
from tests.conftest import csrf_from

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0] == list(HEADER)
    return {r[0]: dict(zip(HEADER, r, strict=True)) for r in rows[1:] if r and r[0] and r[0].count("-") == 2}


def exports(db):
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case.exported")
                                   .order_by(AuditEntry.id)))


def by_summary(db, summary) -> Case:
    return db.session.scalar(select(Case).where(Case.summary == summary))


def applicant_plain(case):
    party = next(p for p in case.parties if p.role == "applicant")
    return party.name, reveal(party)


def test_a_user_who_may_reveal_gets_plain_values(signed_in, demo, db):
    rows = sheet(signed_in("qs.staff").get("/cases/export.xlsx"))
    visible = set(db.session.scalars(cases_query(demo.actor("qs.staff")).with_only_columns(Case.number)))
    assert set(rows) == visible
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    name, plain = applicant_plain(case)
    row = rows[case.number]
    assert row["申请人"] == name and row["申请人电话"] == plain["phone"] and row["申请人证件号码"] == plain["id_number"]
    assert row["事项摘要"] == case.summary and row["办理单位"] == "青石镇" and row["类型"] == "信访事项"


def test_a_user_without_reveal_gets_masked_values_and_no_accusation_against_their_unit(signed_in, demo, db):
    """qs02.head (上坝村 head) may export but not reveal; the accusation against 上坝村 is not in the file."""
    rows = sheet(signed_in("qs02.head").get("/cases/export.xlsx"))
    accusation = by_summary(db, "举报上坝村村务公开不实、账目不清")
    assert accusation.number not in rows
    case = by_summary(db, "兄弟二人因赡养老人费用分担发生纠纷")
    name, plain = applicant_plain(case)
    row = rows[case.number]
    assert row["申请人"] == name
    assert row["申请人电话"] == mask(plain["phone"], 3, 4) != plain["phone"]
    assert row["申请人证件号码"] == mask(plain["id_number"], 4, 4) != plain["id_number"]
    assert "*" in row["申请人证件号码"]
    # the township staff above does see it in their export
    assert accusation.number in sheet(signed_in("qs.staff").get("/cases/export.xlsx"))


def test_every_export_is_audited_without_personal_data(signed_in, demo, db):
    before = len(exports(db))
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    name, plain = applicant_plain(case)
    client = signed_in("qs.staff")
    # the search text is posted and kept server-side; the export link carries its id only
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    listed = client.post("/cases/search", data={"csrf_token": token, "kind": "petition", "q": name, "risk": "yellow"})
    search_id = re.search(r"[?&]s=([A-Za-z0-9_-]+)", listed.headers["Location"]).group(1)
    rows = sheet(client.get("/cases/export.xlsx", query_string={"kind": "petition", "s": search_id, "risk": "yellow"}))
    assert case.number in rows
    entries = exports(db)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.actor_user_id == demo.user("qs.staff").id and entry.result == "ok"
    assert entry.object_id == str(len(rows))
    assert f"rows={len(rows)}" in entry.changed_fields
    assert f"plain={len(rows)}" in entry.changed_fields  # qs.staff may reveal: every row went out unmasked
    assert {"kind=petition", "risk=yellow", "q"} <= set(entry.changed_fields)
    dump = repr([getattr(entry, c.name) for c in AuditEntry.__table__.columns])
    for value in (name, plain["phone"], plain["id_number"]):
        assert value not in dump
    # a second export, a second row
    sheet(signed_in("qs.staff").get("/cases/export.xlsx"))
    assert len(exports(db)) == before + 2


def test_export_refusals(signed_in, demo, db):
    before = len(exports(db))
    assert signed_in("qs01.cadre").get("/cases/export.xlsx").status_code == 403     # no case.export
    assert signed_in("qs01.g1").get("/cases/export.xlsx").status_code == 403
    bad = signed_in("qs.staff").get("/cases/export.xlsx", query_string={"status": "bogus"})
    assert bad.status_code == 422 and "请从列表中选择" in bad.get_data(as_text=True)
    foreign = signed_in("qs.staff").get("/cases/export.xlsx", query_string={"unit": demo.unit("城关街道").id})
    assert foreign.status_code == 422
    assert len(exports(db)) == before


def test_department_head_exports_only_what_is_assigned(signed_in, demo, db):
    rows = sheet(signed_in("xinfang.head").get("/cases/export.xlsx"))
    visible = set(db.session.scalars(cases_query(demo.actor("xinfang.head")).with_only_columns(Case.number)))
    assert set(rows) == visible


def test_the_cap_leaves_a_note(app, db, demo):
    from center.cases.listing.export import build_workbook

    ws = load_workbook(io.BytesIO(build_workbook([("SF-2026-000001",) + ("x",) * 13 + ("=1+1",)],
                                                 truncated=True, cap=1))).active
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[1][-1] == "=1+1" and ws.cell(2, 15).data_type == "s"   # text, never a formula
    assert "仅导出前 1 件" in values[-1][0]
