"""Org tree import (.csv / .xlsx): every row validated, errors by sheet row number, all or nothing, idempotent.

New units go under 青石镇 (990101101000, villages 001–010 exist): 清泉村 …011, 溪口村 …012 and their grids.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from core.accounts.models import Membership, MembershipStatus, Role, User
from core.actor import Actor
from core.audit.models import AuditEntry
from core.errors import ValidationFailed
from core.org.importer import import_units, read_rows
from core.org.models import OrgUnit, UnitKind
from tests.conftest import DEMO_PASSWORD, csrf_from

CN = ["代码", "名称", "上级代码", "类型"]
EN = ["code", "name", "parent_code", "kind"]
QS = "990101101000"  # 青石镇

#: child before parent on purpose: grids first, then their villages
ROWS_CN = [
    ["990101101011G01", "清泉村第1网格", "990101101011", "网格"],
    ["990101101012G01", "溪口村第1网格", "990101101012", "网格"],
    ["990101101011", "清泉村", QS, "村"],
    ["990101101012", "溪口村", QS, "村"],
]
ROWS_EN = [[code, name, parent, {"网格": "grid", "村": "village"}[kind]] for code, name, parent, kind in ROWS_CN]
NEW_CODES = [r[0] for r in ROWS_CN]


# --- helpers ---------------------------------------------------------------------------------------------

def csv_bytes(rows, header=CN, encoding="utf-8-sig") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header=CN) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "组织机构"
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def unit_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(OrgUnit))


def units(db, codes) -> dict[str, OrgUnit]:
    return {u.code: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}


def assert_imported(db, demo):
    found = units(db, NEW_CODES)
    assert set(found) == set(NEW_CODES)
    township = demo.unit(QS)
    for code, name, parent_code, _kind in ROWS_CN:
        unit, parent = found[code], (found.get(parent_code) or demo.unit(parent_code))
        assert unit.name == name and unit.parent_id == parent.id
        assert unit.path == f"{parent.path}{unit.id}/" and unit.depth == parent.depth + 1
        assert unit.is_active
    assert found["990101101011"].kind == UnitKind.village and found["990101101011G01"].kind == UnitKind.grid
    assert found["990101101011"].path.startswith(township.path)


def import_errors(exc: ValidationFailed) -> list[str]:
    return exc.errors["file"]




def upload(client, data: bytes, filename: str):
    token = csrf_from(client.get("/admin/org/import").get_data(as_text=True))
    return client.post("/admin/org/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def page(response) -> str:
    return response.get_data(as_text=True)


def township_admin(db, demo) -> Actor:
    """org.manage held at 青石镇 only. Operations place system admins at the district only, so the
    membership is built directly (with its audit row)."""
    from core.accounts.operations import add_membership
    from core.accounts.passwords import hash_password
    from core.audit.operations import record

    user = User(username="qs.orgadmin", display_name="青石镇管理员", password_hash=hash_password(DEMO_PASSWORD))
    db.session.add(user)
    with pytest.raises(ValidationFailed):
        add_membership(user, role=Role.system_admin, place=demo.unit(QS), actor=Actor.system("cli"))
    user.memberships.clear()
    user.memberships.append(Membership(role=Role.system_admin, unit=demo.unit(QS), status=MembershipStatus.active))
    db.session.flush()
    record(Actor.system("cli"), "test.user_placed", user, changed=["memberships"])
    db.session.commit()
    return Actor.for_user(user)


# --- valid sheets ----------------------------------------------------------------------------------------

FORMATS = {
    "csv-utf8-bom-cn": ("org.csv", lambda: csv_bytes(ROWS_CN)),
    "csv-utf8-en": ("org.CSV", lambda: csv_bytes(ROWS_EN, EN, "utf-8")),
    "csv-gb18030-cn": ("组织机构.csv", lambda: csv_bytes(ROWS_CN, encoding="gb18030")),
    "xlsx-cn": ("org.xlsx", lambda: xlsx_bytes(ROWS_CN)),
    "xlsx-en": ("Org.XLSX", lambda: xlsx_bytes(ROWS_EN, ["Code", "Name", "Parent Code", "Kind"])),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_through_the_page(fmt, signed_in, demo, db):
    filename, build = FORMATS[fmt]
    data = build()
    if fmt == "csv-gb18030-cn":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really not UTF-8
    if fmt == "csv-utf8-bom-cn":
        assert data.startswith(b"\xef\xbb\xbf")
    client = signed_in("admin")
    assert client.get("/admin/org/import").status_code == 200
    before = unit_count(db)
    response = upload(client, data, filename)
    assert response.status_code == 302, page(response)[-1500:]
    assert "导入完成：新建 4 个单位，0 个已存在未改动" in page(client.get(response.headers["Location"], follow_redirects=True))
    assert unit_count(db) == before + 4
    assert_imported(db, demo)
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "org.imported"))
    assert entry.actor_name == "admin" and entry.object_id == "4 created"


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_directly(fmt, demo, db):
    filename, build = FORMATS[fmt]
    rows = read_rows(filename, build())
    assert [r["_row"] for r in rows] == [2, 3, 4, 5]
    assert rows[2]["code"] == "990101101011" and rows[2]["parent_code"] == QS
    before = unit_count(db)
    result = import_units(rows, actor=Actor.system("cli"))
    db.session.commit()
    assert (result.created, result.unchanged, result.errors) == (4, 0, [])
    assert unit_count(db) == before + 4
    assert_imported(db, demo)


def test_rows_in_any_order_down_to_a_new_township(demo, db):
    """grid → village → township → (existing) district, listed bottom-up."""
    rows = read_rows("t.csv", csv_bytes([
        ["990101301001G02", "新安村第2网格", "990101301001", "网格"],
        ["990101301001G01", "新安村第1网格", "990101301001", "网格"],
        ["990101301001", "新安村", "990101301000", "村"],
        ["990101301002", "新安社区", "990101301000", "社区"],
        ["990101301000", "新安镇", "990101000000", "乡镇/街道"],
    ]))
    result = import_units(rows, actor=demo.actor("admin"))
    assert result.created == 5
    found = units(db, ["990101301000", "990101301001", "990101301001G01", "990101301002"])
    district = demo.unit("示范区")
    assert found["990101301000"].parent_id == district.id and found["990101301000"].kind == UnitKind.township
    assert found["990101301001G01"].path.startswith(found["990101301001"].path)
    assert found["990101301001"].path.startswith(found["990101301000"].path)
    assert found["990101301002"].kind == UnitKind.community
    db.session.commit()


def test_system_import_of_a_new_district_with_prefix(demo, db):
    header = ["代码", "名称", "上级代码", "类型", "编号前缀", "中心名称"]
    rows = read_rows("d.csv", csv_bytes([
        ["990102001000", "河西街道", "990102000000", "街道", "", "河西街道矛盾纠纷调处化解中心"],
        ["990102000000", "另一区", "", "区/县", "lq", "另一区社会矛盾纠纷调处化解中心"],
    ], header))
    result = import_units(rows, actor=Actor.system("cli"))
    assert result.created == 2
    district = demo.unit("990102000000")
    assert district.case_prefix == "LQ" and district.parent_id is None and district.path == f"/{district.id}/"
    assert demo.unit("990102001000").center_name == "河西街道矛盾纠纷调处化解中心"
    db.session.commit()

    with pytest.raises(ValidationFailed) as info:  # a district without a prefix
        import_units(read_rows("d.csv", csv_bytes([["990103000000", "第三区", "", "区", "", ""]], header)),
                     actor=Actor.system("cli"))
    assert any("编号前缀" in e for e in import_errors(info.value))


# --- one bad row rejects the whole sheet ----------------------------------------------------------------

BAD_ROWS = {
    "bad code": (["99010110101", "短码村", QS, "村"], "不是 12 位统计用区划代码"),
    "letters in code": (["99010110101X", "字母村", QS, "村"], "不是 12 位统计用区划代码"),
    "bad grid code": (["清泉村网格一", "中文码网格", "990101101011", "网格"], "网格代码"),
    "unknown parent": (["990101101013", "无主村", "990101109000", "村"], "在表中和系统中都不存在"),
    "empty parent": (["990101101013", "无主村", "", "村"], "上级代码为空"),
    "grid under township": (["990101101000G99", "错层网格", QS, "网格"], "上级单位的层级与本行类型不匹配"),
    "village under village": (["990101101013", "村下村", "990101101001", "村"], "上级单位的层级与本行类型不匹配"),
    "village under new grid": (["990101101013", "网格下村", "990101101011G01", "村"], "上级单位的层级与本行类型不匹配"),
    "duplicate in sheet": (["990101101011", "清泉村", QS, "村"], "与第 4 行重复"),
    "empty name": (["990101101013", "", QS, "村"], "名称为空"),
    "name too long": (["990101101013", "长" * 101, QS, "村"], "名称超过 100 个字符"),
    "unknown kind": (["990101101013", "某组", QS, "村民小组"], "类型无效"),
    "conflicts with existing": (["990101101002", "上坝新村", QS, "村"], "已存在，且名称、类型或上级与表中不一致"),
    "existing moved": (["990101101002", "上坝村", "990101102000", "村"], "已存在，且名称、类型或上级与表中不一致"),
    "district by a user": (["990102000000", "自封区", "", "区"], "新建区/县须由平台运维通过命令行导入"),
}


def sheet_with(bad_row):
    """Sheet rows: 1 header, 2–4 valid, 5 blank, 6 the bad row, 7 valid."""
    return [ROWS_CN[0], ROWS_CN[1], ROWS_CN[2], ["", "", "", ""], bad_row, ROWS_CN[3]]


@pytest.mark.parametrize("case", BAD_ROWS)
def test_one_bad_row_rejects_the_sheet_directly(case, demo, db):
    bad_row, message = BAD_ROWS[case]
    rows = read_rows("bad.csv", csv_bytes(sheet_with(bad_row)))
    assert [r["_row"] for r in rows] == [2, 3, 4, 6, 7]  # the blank sheet row 5 is skipped, not renumbered
    before = unit_count(db)
    with pytest.raises(ValidationFailed) as info:
        import_units(rows, actor=demo.actor("admin"))
    errors = import_errors(info.value)
    assert any(e.startswith("第 6 行：") and message in e for e in errors), errors
    assert all(e.startswith("第 6 行：") for e in errors), errors  # the valid rows are not blamed
    assert info.value.message.endswith("未导入任何数据")
    assert unit_count(db) == before
    assert not units(db, NEW_CODES)


@pytest.mark.parametrize("case", ["bad code", "unknown parent", "grid under township", "duplicate in sheet",
                                  "empty name", "conflicts with existing", "district by a user"])
def test_one_bad_row_rejects_the_sheet_through_the_page(case, signed_in, demo, db):
    bad_row, message = BAD_ROWS[case]
    client = signed_in("admin")
    before = unit_count(db)
    for filename, data in (("bad.csv", csv_bytes(sheet_with(bad_row))), ("bad.xlsx", xlsx_bytes(sheet_with(bad_row)))):
        response = upload(client, data, filename)
        assert response.status_code == 422
        body = page(response)
        assert "未导入任何数据" in body
        assert re.search(rf"第 6 行：[^<]*{re.escape(message)}", body), body[-1500:]
        assert unit_count(db) == before
    assert not units(db, NEW_CODES)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "org.imported")) is None


def test_every_bad_row_is_listed(demo, db):
    rows = read_rows("bad.csv", csv_bytes([
        ["99010110101", "短码村", QS, "村"],
        ROWS_CN[2],
        ["990101101013", "", QS, "村"],
        ["990101101014", "无主村", "990101109000", "村"],
    ]))
    with pytest.raises(ValidationFailed) as info:
        import_units(rows, actor=Actor.system("cli"))
    numbers = sorted({int(re.match(r"第 (\d+) 行", e).group(1)) for e in import_errors(info.value)})
    assert numbers == [2, 4, 5]
    assert info.value.message == "共 3 处错误，未导入任何数据"


def test_full_width_digits_are_not_a_statistical_code(demo, db):
    """'９９０１…' looks like a code on screen but is not one, and would dodge the duplicate check
    against the ASCII code of the same unit."""
    before = unit_count(db)
    rows = read_rows("fw.csv", csv_bytes([["９９０１０１１０１００２", "上坝村", QS, "村"]]))
    with pytest.raises(ValidationFailed) as info:
        import_units(rows, actor=Actor.system("cli"))
    assert any("不是 12 位统计用区划代码" in e for e in import_errors(info.value))
    assert unit_count(db) == before


def test_inactive_parent_is_an_error(demo, db):
    from core.org.operations import set_unit_active

    village = demo.unit("上坝村")
    for grid in village.children:
        set_unit_active(grid, False, actor=Actor.system("cli"))
    set_unit_active(village, False, actor=Actor.system("cli"))
    with pytest.raises(ValidationFailed) as info:
        import_units(read_rows("x.csv", csv_bytes([["990101101002G09", "新网格", village.code, "网格"]])),
                     actor=demo.actor("admin"))
    assert import_errors(info.value) == [f"第 2 行：上级单位「{village.code}」已停用"]


# --- re-import -------------------------------------------------------------------------------------------

def test_reimport_is_a_no_op(signed_in, demo, db):
    client = signed_in("admin")
    data = xlsx_bytes(ROWS_CN)
    assert upload(client, data, "org.xlsx").status_code == 302
    after_first = unit_count(db)
    again = upload(client, data, "org.xlsx")
    assert again.status_code == 302
    assert "导入完成：新建 0 个单位，4 个已存在未改动" in page(client.get(again.headers["Location"], follow_redirects=True))
    assert unit_count(db) == after_first
    assert_imported(db, demo)

    # the same sheet plus one row: only that row is new
    result = import_units(read_rows("org.csv", csv_bytes([*ROWS_CN, ["990101101012G02", "溪口村第2网格", "990101101012", "网格"]])),
                          actor=demo.actor("admin"))
    assert (result.created, result.unchanged) == (1, 4)
    assert unit_count(db) == after_first + 1
    db.session.commit()


def test_reimport_of_existing_demo_rows_is_unchanged(demo, db):
    """A sheet exported from the system (existing rows, English kinds) imports as all-unchanged."""
    qs, village = demo.unit(QS), demo.unit("青石村")
    rows = [[qs.code, qs.name, "990101000000", "township"], [village.code, village.name, qs.code, "village"]]
    rows += [[grid.code, grid.name, village.code, "grid"] for grid in village.children]
    before = unit_count(db)
    result = import_units(read_rows("export.csv", csv_bytes(rows, EN)), actor=demo.actor("admin"))
    assert (result.created, result.unchanged) == (0, len(rows))
    assert unit_count(db) == before


# --- jurisdiction of the importing user ------------------------------------------------------------------

def test_parent_outside_the_actors_jurisdiction_is_an_error(demo, db):
    actor = township_admin(db, demo)
    before = unit_count(db)
    outside = [
        ["990101001011", "外镇社区", "990101001000", "社区"],  # under 城关街道
        ["990101001001G09", "外镇网格", "990101001001", "网格"],  # under 文昌社区
        ["990101301000", "新安镇", "990101000000", "乡镇"],  # a township under the district
        ["990102000000", "自封区", "", "区"],
    ]
    with pytest.raises(ValidationFailed) as info:
        import_units(read_rows("x.csv", csv_bytes([*ROWS_CN, *outside])), actor=actor)
    errors = import_errors(info.value)
    assert "第 6 行：上级单位「990101001000」不在您的管辖范围内" in errors
    assert "第 7 行：上级单位「990101001001」不在您的管辖范围内" in errors
    assert "第 8 行：上级单位「990101000000」不在您的管辖范围内" in errors
    assert "第 9 行：新建区/县须由平台运维通过命令行导入" in errors
    assert not any(e.startswith(("第 2 行", "第 3 行", "第 4 行", "第 5 行")) for e in errors)
    assert unit_count(db) == before

    # the same admin imports inside its own township
    result = import_units(read_rows("ok.csv", csv_bytes(ROWS_CN)), actor=actor)
    assert result.created == 4
    assert_imported(db, demo)
    db.session.commit()


def test_township_admin_import_page_refuses_another_township(signed_in, demo, db):
    township_admin(db, demo)
    client = signed_in("qs.orgadmin")
    before = unit_count(db)
    response = upload(client, csv_bytes([["990101001011", "外镇社区", "990101001000", "社区"]]), "x.csv")
    assert response.status_code == 422
    assert "第 2 行：上级单位「990101001000」不在您的管辖范围内" in page(response)
    assert unit_count(db) == before
    assert signed_in("qs.leader").get("/admin/org/import").status_code == 403  # no org.manage at all


# --- Excel details and bad files ------------------------------------------------------------------------

def _as_excel_floats(data: bytes) -> bytes:
    """Rewrite numeric cells the way Excel stores big numbers once they went through a float: 9.9E+11."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                content = re.sub(rb'(<c r="[A-Z]+\d+" t="n"><v>)(\d{12})(</v>)',
                                 lambda m: m.group(1) + f"{float(m.group(2).decode()):.11E}".encode() + m.group(3),
                                 content)
            dst.writestr(item, content)
    return out.getvalue()


def test_excel_numbers_are_read_as_codes(demo, db):
    rows = [[990101101011, "清泉村", 990101101000, "村"],  # codes typed into Excel become numbers
            ["990101101011G01", "清泉村第1网格", 990101101011.0, "网格"],
            [990101101012.0, "溪口村", 990101101000.0, "村"],
            ["990101101012G01", "溪口村第1网格", 990101101012, "网格"]]
    data = _as_excel_floats(xlsx_bytes(rows))
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<v>9.90101101011E+11</v>" in sheet  # the float form really is in the file
    from openpyxl import load_workbook

    raw = [list(r) for r in load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True)]
    assert isinstance(raw[1][0], float) and raw[1][0] == 990101101011.0
    parsed = read_rows("org.xlsx", data)
    assert [(r["code"], r["parent_code"]) for r in parsed] == [
        ("990101101011", QS), ("990101101011G01", "990101101011"), ("990101101012", QS),
        ("990101101012G01", "990101101012")]
    result = import_units(parsed, actor=demo.actor("admin"))
    assert result.created == 4
    assert_imported(db, demo)


@pytest.mark.parametrize(("filename", "data", "message"), [
    ("org.txt", b"code,name\n", "请上传 .xlsx 或 .csv 文件"),
    ("org", b"", "请上传 .xlsx 或 .csv 文件"),
    ("org.csv", b"", "文件为空"),
    ("org.csv", "代码,名称,类型\r\n1,2,3\r\n".encode(), "第 1 行缺少列：上级代码"),
    ("org.csv", "名称,类型\r\n".encode("gb18030"), "第 1 行缺少列：代码、上级代码"),
    ("org.xlsx", b"PK\x03\x04 not really a workbook", "无法读取该 Excel 文件"),
    ("org.xlsx", b"plain text", "无法读取该 Excel 文件"),
], ids=["txt", "no-extension", "empty-csv", "no-parent-column", "gb18030-two-missing", "broken-zip", "text-as-xlsx"])
def test_bad_files(filename, data, message, signed_in, demo, db):
    with pytest.raises(ValidationFailed) as info:
        read_rows(filename, data)
    assert any(message in m for m in info.value.errors["file"]), info.value.errors
    client = signed_in("admin")
    before = unit_count(db)
    response = upload(client, data, filename)
    assert response.status_code == 422 and message in page(response)
    assert unit_count(db) == before


def test_upload_without_a_file(signed_in):
    client = signed_in("admin")
    token = csrf_from(client.get("/admin/org/import").get_data(as_text=True))
    response = client.post("/admin/org/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 422 and "请选择要导入的文件" in page(response)
