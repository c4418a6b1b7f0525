"""The .xlsx export of the filtered list: Chinese header, one row per case, the applicant's phone and ID number
masked unless the user may reveal that case, every export audited (filters and row count, no personal data),
and no foreign row — the 检举控告 case is absent for the accused unit's users."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

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


def _full_export(client, reason="核对重复信访人员名单", **filters):
    page = client.get("/cases/export/full", query_string=filters)
    assert page.status_code == 200, page.status_code
    return client.post("/cases/export/full", query_string=filters,
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), "reason": reason})


def test_the_one_click_export_is_masked_even_for_a_user_who_may_reveal(signed_in, demo, db):
    rows = sheet(signed_in("qs.staff").get("/cases/export.xlsx"))
    visible = set(db.session.scalars(cases_query(demo.actor("qs.staff")).with_only_columns(Case.number)))
    assert set(rows) == visible
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    name, plain = applicant_plain(case)
    row = rows[case.number]
    assert row["申请人"] == name and row["申请人电话"] == mask(plain["phone"], 3, 4) != plain["phone"]
    assert row["申请人证件号码"] == mask(plain["id_number"], 4, 4) != plain["id_number"]
    assert row["事项摘要"] == case.summary and row["办理单位"] == "青石镇" and row["类型"] == "信访事项"


def test_the_full_export_asks_why_and_keeps_the_reason(signed_in, demo, db):
    client = signed_in("qs.staff")
    before = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "case.exported_unmasked"))
    refused = _full_export(client, reason="  ", kind="petition")
    assert refused.status_code == 422 and "理由" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "case.exported_unmasked")) == before  # nothing went out, nothing recorded
    rows = sheet(_full_export(client, kind="petition"))
    case = by_summary(db, "反映镇中心小学周边交通安全隐患")
    name, plain = applicant_plain(case)
    assert rows[case.number]["申请人电话"] == plain["phone"]
    assert rows[case.number]["申请人证件号码"] == plain["id_number"]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case.exported_unmasked")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.actor_user_id == demo.user("qs.staff").id and "reason=核对重复信访人员名单" in entry.changed_fields
    assert f"plain={len(rows)}" in entry.changed_fields and "kind=petition" in entry.changed_fields
    for value in (plain["phone"], plain["id_number"]):
        assert value not in repr(entry.changed_fields)


def test_the_full_export_has_its_limits_and_tells_the_security_administrator(app, signed_in, demo, db):
    from notify.models import Notification

    client = signed_in("qs.staff")
    app.config.update(EXPORT_UNMASKED_MAX_ROWS=2, EXPORT_UNMASKED_NOTIFY_ROWS=1)
    try:
        over = _full_export(client)  # qs.staff sees more than two cases: narrow the filter, never cut short
        assert over.status_code == 422 and "不超过 2 件" in over.get_data(as_text=True)
        app.config["EXPORT_UNMASKED_MAX_ROWS"] = 500
        from core import ratelimit

        ratelimit.reset("export.unmasked_rows", str(demo.user("qs.staff").id))
        first = sheet(_full_export(client, kind="petition", risk="yellow"))
        app.config["RATE_LIMITS"] = {"export.unmasked_rows": [len(first) + 1, 86400]}  # one row left today
        told = db.session.scalars(select(Notification).where(Notification.event == "cases.unmasked_export")).all()
        assert {n.user_id for n in told} == {demo.user("secadmin").id}
        daily = _full_export(client)
        assert daily.status_code == 429 and "上限" in daily.get_data(as_text=True)
        assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "case.exported_unmasked",
                                                             AuditEntry.result == "denied"))
    finally:
        app.config.update(EXPORT_UNMASKED_MAX_ROWS=200, EXPORT_UNMASKED_NOTIFY_ROWS=50, RATE_LIMITS=None)


def test_a_user_who_may_not_reveal_has_no_full_export(signed_in, demo, db):
    client = signed_in("qs02.head")
    assert "导出完整信息" not in client.get("/cases/").get_data(as_text=True)
    assert client.get("/cases/export/full").status_code == 403
    assert "导出完整信息" in signed_in("qs.staff").get("/cases/").get_data(as_text=True)


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
    assert "plain=0" in entry.changed_fields  # the one-click export is masked, whoever asks
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
