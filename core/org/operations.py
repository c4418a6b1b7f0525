"""Org tree writes: create, edit and deactivate units and departments."""

from __future__ import annotations

from sqlalchemy import select

from core.actor import Actor
from core.audit.operations import changed_fields, record
from core.auth.permissions import require
from core.db import db
from core.errors import PermissionDenied, ValidationFailed
from core.org.models import ALLOWED_PARENT, Department, DepartmentKind, OrgUnit, UnitKind

UNIT_FIELDS = ("code", "name", "case_prefix", "center_name")


def check_code_format(kind: UnitKind, code: str) -> None:
    import re

    if kind != UnitKind.grid and not re.fullmatch(r"[0-9]{12}", code or ""):
        raise ValidationFailed({"code": ["区、乡镇、村(社区)的代码须为 12 位统计用区划代码"]})


def _check_code_free(code: str, *, exclude_id: int | None = None) -> None:
    stmt = select(OrgUnit.id).where(OrgUnit.code == code)
    if exclude_id:
        stmt = stmt.where(OrgUnit.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise ValidationFailed({"code": ["该代码已被其他单位使用"]})


def _check_prefix_free(prefix: str | None, *, exclude_id: int | None = None) -> None:
    if not prefix:
        return
    stmt = select(OrgUnit.id).where(OrgUnit.case_prefix == prefix)
    if exclude_id:
        stmt = stmt.where(OrgUnit.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise ValidationFailed({"case_prefix": ["该事项编号前缀已被其他区县使用"]})


def create_unit(*, kind: UnitKind | str, code: str, name: str, parent: OrgUnit | None, actor: Actor,
                case_prefix: str | None = None, center_name: str | None = None, audit: bool = True) -> OrgUnit:
    kind = UnitKind(kind)
    if parent is None:
        if not actor.is_system:
            raise PermissionDenied("新建区县根节点须由平台运维通过命令行完成")
    else:
        require(actor, "org.manage", parent)
    if (parent.kind if parent else None) not in ALLOWED_PARENT[kind]:
        raise ValidationFailed({"parent_id": ["上级单位的层级与本单位类型不匹配"]})
    if parent is not None and not parent.is_active:
        raise ValidationFailed({"parent_id": ["上级单位已停用"]})
    if kind == UnitKind.district and not case_prefix:
        raise ValidationFailed({"case_prefix": ["区县须设置事项编号前缀"]})
    if kind != UnitKind.district:
        case_prefix = None
    check_code_format(kind, code)
    _check_code_free(code)
    _check_prefix_free(case_prefix)
    unit = OrgUnit(kind=kind, code=code, name=name, parent=parent, case_prefix=case_prefix,
                   center_name=center_name, depth=(parent.depth + 1) if parent else 0)
    db.session.add(unit)
    db.session.flush()  # the id is part of the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    if audit:
        record(actor, "org.unit_created", unit, unit_id=unit.id, changed=["kind", *UNIT_FIELDS])
    return unit


def update_unit(unit: OrgUnit, *, actor: Actor, **values) -> OrgUnit:
    require(actor, "org.manage", unit)
    if "code" in values and values["code"] != unit.code:
        check_code_format(unit.kind, values["code"])
        _check_code_free(values["code"], exclude_id=unit.id)
    if unit.kind == UnitKind.district:
        if "case_prefix" in values and not values["case_prefix"]:
            raise ValidationFailed({"case_prefix": ["区县须设置事项编号前缀"]})
        _check_prefix_free(values.get("case_prefix"), exclude_id=unit.id)
    else:
        values.pop("case_prefix", None)
    for key in UNIT_FIELDS:
        if key in values:
            setattr(unit, key, values[key])
    changed = changed_fields(unit)
    if changed:
        record(actor, "org.unit_updated", unit, unit_id=unit.id, changed=changed)
    return unit


def set_unit_active(unit: OrgUnit, active: bool, *, actor: Actor) -> OrgUnit:
    require(actor, "org.manage", unit)
    if not active and any(c.is_active for c in unit.children):
        raise ValidationFailed({"is_active": ["请先停用其下级单位"]})
    if active and unit.parent is not None and not unit.parent.is_active:
        raise ValidationFailed({"is_active": ["上级单位已停用，不能启用本单位"]})
    unit.is_active = active
    record(actor, "org.unit_enabled" if active else "org.unit_disabled", unit, unit_id=unit.id,
           changed=["is_active"])
    return unit


def create_department(*, unit: OrgUnit, name: str, kind: DepartmentKind | str, actor: Actor,
                      duty: str | None = None, phone: str | None = None, audit: bool = True) -> Department:
    require(actor, "org.manage", unit)
    if unit.tier not in ("district", "township"):
        raise ValidationFailed({"unit_id": ["部门只能设在区或乡镇(街道)矛调中心"]})
    dept = Department(unit=unit, name=name, kind=DepartmentKind(kind), duty=duty, phone=phone)
    db.session.add(dept)
    db.session.flush()
    if audit:
        record(actor, "org.department_created", dept, unit_id=unit.id, changed=["name", "kind", "duty", "phone"])
    return dept


def update_department(dept: Department, *, actor: Actor, **values) -> Department:
    require(actor, "org.manage", dept.unit)
    for key in ("name", "kind", "duty", "phone"):
        if key in values:
            setattr(dept, key, DepartmentKind(values[key]) if key == "kind" else values[key])
    changed = changed_fields(dept)
    if changed:
        record(actor, "org.department_updated", dept, unit_id=dept.unit_id, changed=changed)
    return dept


def set_department_active(dept: Department, active: bool, *, actor: Actor) -> Department:
    require(actor, "org.manage", dept.unit)
    dept.is_active = active
    record(actor, "org.department_enabled" if active else "org.department_disabled", dept,
           unit_id=dept.unit_id, changed=["is_active"])
    return dept
