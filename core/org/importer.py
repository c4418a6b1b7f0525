"""Import of the org tree from .csv or .xlsx: every row validated, errors by row number, all or nothing.

Columns (Chinese or English headers): 代码/code, 名称/name, 上级代码/parent_code, 类型/kind, and optionally
编号前缀/case_prefix (districts) and 中心名称/center_name. Rows may come in any order (a child before its
parent). A row whose code already exists with the same name, kind and parent is skipped, so a sheet can be
imported again after an addition.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import can
from core.errors import ValidationFailed
from core.org.models import ALLOWED_PARENT, OrgUnit, UnitKind
from core.org.operations import create_unit

MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024

HEADERS = {
    "code": ("code", "代码", "区划代码", "统计用区划代码", "单位代码"),
    "name": ("name", "名称", "单位名称"),
    "parent_code": ("parent_code", "parent code", "上级代码", "上级区划代码", "上级单位代码"),
    "kind": ("kind", "类型", "层级", "单位类型"),
    "case_prefix": ("case_prefix", "prefix", "编号前缀", "事项编号前缀"),
    "center_name": ("center_name", "中心名称"),
}
KINDS = {
    "district": UnitKind.district, "区": UnitKind.district, "县": UnitKind.district, "区/县": UnitKind.district,
    "区县": UnitKind.district, "township": UnitKind.township, "乡镇": UnitKind.township, "乡": UnitKind.township,
    "镇": UnitKind.township, "街道": UnitKind.township, "乡镇/街道": UnitKind.township,
    "village": UnitKind.village, "村": UnitKind.village, "community": UnitKind.community,
    "社区": UnitKind.community, "grid": UnitKind.grid, "网格": UnitKind.grid,
}
STAT_CODE = re.compile(r"^[0-9]{12}$")
GRID_CODE = re.compile(r"^[0-9A-Za-z\-]{1,32}$")
PREFIX = re.compile(r"^[A-Z]{2,8}$")


@dataclass
class ImportRow:
    number: int
    code: str
    name: str
    parent_code: str
    kind: UnitKind | None
    case_prefix: str = ""
    center_name: str = ""


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_rows(filename: str, data: bytes) -> list[dict]:
    """Rows as dicts keyed by our column names, each with its sheet row number under "_row"."""
    if len(data) > MAX_BYTES:
        raise ValidationFailed({"file": ["文件过大（上限 10 MB）"]})
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        table = _xlsx_rows(data)
    elif name.endswith(".csv"):
        table = _csv_rows(data)
    else:
        raise ValidationFailed({"file": ["请上传 .xlsx 或 .csv 文件"]})
    if not table:
        raise ValidationFailed({"file": ["文件为空"]})
    header = [str(h or "").strip().lower() for h in table[0]]
    columns = {}
    for key, names in HEADERS.items():
        for i, h in enumerate(header):
            if h in names:
                columns[key] = i
    labels = {"code": "代码", "name": "名称", "parent_code": "上级代码", "kind": "类型"}
    missing = [labels[k] for k in labels if k not in columns]
    if missing:
        raise ValidationFailed({"file": [f"第 1 行缺少列：{'、'.join(missing)}"]})
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if not any(str(v or "").strip() for v in values):
            continue
        row = {key: _cell(values, i) for key, i in columns.items()}
        row["_row"] = number
        rows.append(row)
    if len(rows) > MAX_ROWS:
        raise ValidationFailed({"file": [f"行数超过上限 {MAX_ROWS}"]})
    return rows


def _cell(values, index) -> str:
    if index >= len(values) or values[index] is None:
        return ""
    value = values[index]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel turns long codes into numbers
    return str(value).strip()


def _csv_rows(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed({"file": ["无法识别文件编码，请另存为 UTF-8 的 CSV"]})
    try:
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ValidationFailed({"file": ["CSV 格式无效"]}) from exc


def _xlsx_rows(data: bytes) -> list[list]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not wb.worksheets:
                raise ValidationFailed({"file": ["该 Excel 文件没有工作表"]})
            return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
        finally:
            wb.close()
    except ValidationFailed:
        raise
    except (zipfile.BadZipFile, Exception) as exc:  # noqa: BLE001 - a damaged workbook fails in many ways
        raise ValidationFailed({"file": ["无法读取该 Excel 文件，请确认是完好的 .xlsx 格式"]}) from exc


def validate_rows(raw_rows: list[dict], *, actor: Actor, existing_by_code) -> tuple[list[ImportRow], ImportResult]:
    """Check every row; ``existing_by_code(code) -> OrgUnit | None`` looks up the database."""
    result = ImportResult()
    rows: list[ImportRow] = []
    seen: dict[str, int] = {}
    for raw in raw_rows:
        n = raw["_row"]
        kind = KINDS.get(raw.get("kind", "").strip().lower()) if raw.get("kind") else None
        row = ImportRow(n, raw.get("code", ""), raw.get("name", ""), raw.get("parent_code", ""), kind,
                        raw.get("case_prefix", "").upper(), raw.get("center_name", ""))
        errs = []
        if kind is None:
            errs.append("类型无效（应为 区/县、乡镇/街道、村、社区 或 网格）")
        if not row.code:
            errs.append("代码为空")
        elif kind is not None and kind != UnitKind.grid and not STAT_CODE.match(row.code):
            errs.append(f"代码「{row.code}」不是 12 位统计用区划代码")
        elif kind == UnitKind.grid and not GRID_CODE.match(row.code):
            errs.append(f"网格代码「{row.code}」只能由字母、数字和连字符组成，最长 32 位")
        if row.code in seen:
            errs.append(f"代码「{row.code}」与第 {seen[row.code]} 行重复")
        if not row.name:
            errs.append("名称为空")
        elif len(row.name) > 100:
            errs.append("名称超过 100 个字符")
        if kind == UnitKind.district:
            if row.parent_code:
                errs.append("区/县不应填写上级代码")
            if not PREFIX.match(row.case_prefix):
                errs.append("区/县须填写 2–8 位大写字母的事项编号前缀")
        elif kind is not None and not row.parent_code:
            errs.append("上级代码为空")
        seen.setdefault(row.code, n)
        result.errors += [(n, e) for e in errs]
        rows.append(row)

    by_code = {r.code: r for r in rows}
    for row in rows:
        if row.kind is None or row.kind == UnitKind.district and not row.parent_code:
            if row.kind == UnitKind.district and not actor.is_system:
                result.errors.append((row.number, "新建区/县须由平台运维通过命令行导入"))
            continue
        if not row.parent_code:
            continue
        parent_kind = None
        if row.parent_code in by_code:
            parent_kind = by_code[row.parent_code].kind
        else:
            parent = existing_by_code(row.parent_code)
            if parent is None:
                result.errors.append((row.number, f"上级代码「{row.parent_code}」在表中和系统中都不存在"))
                continue
            if not can(actor, "org.manage", parent):
                result.errors.append((row.number, f"上级单位「{row.parent_code}」不在您的管辖范围内"))
                continue
            if not parent.is_active:
                result.errors.append((row.number, f"上级单位「{row.parent_code}」已停用"))
                continue
            parent_kind = parent.kind
        if parent_kind not in ALLOWED_PARENT[row.kind]:
            result.errors.append((row.number, "上级单位的层级与本行类型不匹配"))

    for row in rows:
        existing = existing_by_code(row.code) if row.code else None
        if existing is not None:
            parent_code = existing.parent.code if existing.parent else ""
            if (existing.name, existing.kind, parent_code) != (row.name, row.kind, row.parent_code):
                result.errors.append((row.number, f"代码「{row.code}」已存在，且名称、类型或上级与表中不一致"))
    result.errors.sort()
    return rows, result


def import_units(raw_rows: list[dict], *, actor: Actor) -> ImportResult:
    """Validate all rows, then create them parents first. Raises ValidationFailed if any row is bad."""
    from core.org.queries import unit_by_code

    rows, result = validate_rows(raw_rows, actor=actor, existing_by_code=unit_by_code)
    if result.errors:
        raise ValidationFailed({"file": [f"第 {n} 行：{msg}" for n, msg in result.errors]},
                               message=f"共 {len(result.errors)} 处错误，未导入任何数据")
    created: dict[str, OrgUnit] = {}
    pending = list(rows)
    while pending:
        progressed = []
        for row in pending:
            if unit_by_code(row.code) is not None and row.code not in created:
                result.unchanged += 1
                progressed.append(row)
                continue
            parent = created.get(row.parent_code) or (unit_by_code(row.parent_code) if row.parent_code else None)
            if row.parent_code and parent is None:
                continue  # its parent is created in a later pass
            created[row.code] = create_unit(kind=row.kind, code=row.code, name=row.name, parent=parent,
                                            actor=actor, case_prefix=row.case_prefix or None,
                                            center_name=row.center_name or None, audit=False)
            result.created += 1
            progressed.append(row)
        if not progressed:
            raise ValidationFailed({"file": ["上级关系存在循环"]})
        done = {r.number for r in progressed}
        pending = [r for r in pending if r.number not in done]
    record(actor, "org.imported", object_type="org_units", object_id=f"{result.created} created",
           changed=["code", "name", "parent_id", "kind"])
    return result
