"""Admin pages for the org tree and departments, and the tree import."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.auth.decorators import permission
from core.errors import ValidationFailed
from core.org import operations, queries
from core.org.importer import import_units, read_rows
from core.org.models import ALLOWED_PARENT, DEPARTMENT_KIND_LABELS, UNIT_KIND_LABELS
from core.org.schemas import DepartmentArgs, UnitCreateArgs, UnitUpdateArgs
from core.web import act, commit, current_actor, submit

bp = Blueprint("org", __name__, url_prefix="/admin")

DEPT_KIND_OPTIONS = [(k.value, v) for k, v in DEPARTMENT_KIND_LABELS.items()]


def _child_kind_options(unit):
    return [(k.value, UNIT_KIND_LABELS[k]) for k, parents in ALLOWED_PARENT.items() if unit.kind in parents]


@bp.route("/org")
@permission("org.view")
def units():
    actor = current_actor()
    q = request.args.get("q", "").strip()[:50]
    if q:
        return render_template("core/org/search.html", q=q, results=queries.list_units(actor, q=q, limit=200))
    tops = queries.top_units(actor)
    if len(tops) == 1:
        return redirect(url_for("org.unit", unit_id=tops[0].id))
    return render_template("core/org/roots.html", tops=tops)


@bp.route("/org/<int:unit_id>")
@permission("org.view")
def unit(unit_id: int):
    actor = current_actor()
    u = queries.get_unit_or_404(unit_id, actor=actor)
    include_inactive = request.args.get("all") == "1"
    children = queries.list_units(actor, parent=u, include_inactive=include_inactive)
    return render_template("core/org/unit.html", unit=u, children=children, ancestors=_ancestors(u, actor),
                           counts=queries.subtree_counts(u), include_inactive=include_inactive,
                           departments=queries.list_departments(actor, unit=u, include_inactive=True))


def _ancestors(u, actor):
    from core.auth.permissions import can

    chain, node = [], u.parent
    while node is not None:
        if can(actor, "org.view", node):
            chain.append(node)
        node = node.parent
    return list(reversed(chain))


@bp.route("/org/<int:unit_id>/new", methods=["GET", "POST"])
@permission("org.manage")
def unit_new(unit_id: int):
    actor = current_actor()
    parent = queries.get_unit_or_404(unit_id, actor=actor, action="org.manage")
    ctx = {"parent": parent, "kind_options": _child_kind_options(parent)}
    if request.method == "GET":
        return render_template("core/org/unit_form.html", form={}, errors={}, **ctx)

    def perform(args):
        created = operations.create_unit(parent=parent, actor=actor, **args)
        flash(f"已新建{created.kind_label}「{created.name}」", "success")
        return redirect(url_for("org.unit", unit_id=parent.id))

    return submit(UnitCreateArgs(), perform, "core/org/unit_form.html", **ctx)


@bp.route("/org/<int:unit_id>/edit", methods=["GET", "POST"])
@permission("org.manage")
def unit_edit(unit_id: int):
    actor = current_actor()
    u = queries.get_unit_or_404(unit_id, actor=actor, action="org.manage")
    if request.method == "GET":
        form = {"code": u.code, "name": u.name, "center_name": u.center_name or "", "case_prefix": u.case_prefix or ""}
        return render_template("core/org/unit_form.html", form=form, errors={}, unit=u)

    def perform(args):
        operations.update_unit(u, actor=actor, **args)
        flash("已保存", "success")
        return redirect(url_for("org.unit", unit_id=u.id))

    return submit(UnitUpdateArgs(), perform, "core/org/unit_form.html", unit=u)


def _toggle_unit(unit_id: int, active: bool):
    actor = current_actor()
    u = queries.get_unit_or_404(unit_id, actor=actor, action="org.manage")

    return act(lambda: operations.set_unit_active(u, active, actor=actor), done="已启用" if active else "已停用",
               to=url_for("org.unit", unit_id=u.id))


@bp.route("/org/<int:unit_id>/disable", methods=["POST"])
@permission("org.manage")
def unit_disable(unit_id: int):
    return _toggle_unit(unit_id, False)


@bp.route("/org/<int:unit_id>/enable", methods=["POST"])
@permission("org.manage")
def unit_enable(unit_id: int):
    return _toggle_unit(unit_id, True)


@bp.route("/org/import", methods=["GET", "POST"])
@permission("org.manage")
def import_tree():
    if request.method == "GET":
        return render_template("core/org/import.html", errors={}, form={})
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed({"file": ["请选择要导入的文件"]})
        rows = read_rows(upload.filename, upload.read())
        result = import_units(rows, actor=current_actor())
        commit()
    except ValidationFailed as exc:
        from core.db import db

        db.session.rollback()
        return render_template("core/org/import.html", errors=exc.errors, form={}, summary=exc.message), 422
    flash(f"导入完成：新建 {result.created} 个单位，{result.unchanged} 个已存在未改动", "success")
    return redirect(url_for("org.units"))


def _unit_options(actor):
    return [(u.id, f"{u.name}（{u.kind_label}）") for u in queries.list_units(actor, action="org.manage", limit=5000)
            if u.tier in ("district", "township")]


@bp.route("/departments")
@permission("org.view")
def departments():
    actor = current_actor()
    kind = request.args.get("kind") if request.args.get("kind") in DEPARTMENT_KIND_LABELS else None
    depts = queries.list_departments(actor, kind=kind, include_inactive=True)
    return render_template("core/org/departments.html", departments=depts, kind=kind or "",
                           kind_options=DEPT_KIND_OPTIONS)


@bp.route("/departments/new", methods=["GET", "POST"])
@permission("org.manage")
def department_new():
    actor = current_actor()
    ctx = {"unit_options": _unit_options(actor), "kind_options": DEPT_KIND_OPTIONS, "dept": None}
    if request.method == "GET":
        return render_template("core/org/department_form.html", form={"unit_id": request.args.get("unit", "")},
                               errors={}, **ctx)

    def perform(args):
        try:
            unit = queries.get_unit_or_404(args.pop("unit_id"), actor=actor, action="org.manage")
        except Exception as exc:
            raise ValidationFailed({"unit_id": ["所选单位不存在或不在您的管辖范围内"]}) from exc
        dept = operations.create_department(unit=unit, actor=actor, **args)
        flash(f"已新建部门「{dept.name}」", "success")
        return redirect(url_for("org.departments"))

    return submit(DepartmentArgs(), perform, "core/org/department_form.html", **ctx)


@bp.route("/departments/<int:dept_id>/edit", methods=["GET", "POST"])
@permission("org.manage")
def department_edit(dept_id: int):
    actor = current_actor()
    dept = queries.get_department_or_404(dept_id, actor=actor, action="org.manage")
    ctx = {"unit_options": _unit_options(actor), "kind_options": DEPT_KIND_OPTIONS, "dept": dept}
    if request.method == "GET":
        form = {"name": dept.name, "kind": dept.kind.value, "unit_id": dept.unit_id, "duty": dept.duty or "",
                "phone": dept.phone or ""}
        return render_template("core/org/department_form.html", form=form, errors={}, **ctx)

    def perform(args):
        if int(args.pop("unit_id")) != dept.unit_id:
            raise ValidationFailed({"unit_id": ["部门所属中心不能修改，请新建部门"]})
        operations.update_department(dept, actor=actor, **args)
        flash("已保存", "success")
        return redirect(url_for("org.departments"))

    return submit(DepartmentArgs(), perform, "core/org/department_form.html", **ctx)


def _toggle_department(dept_id: int, active: bool):
    actor = current_actor()
    dept = queries.get_department_or_404(dept_id, actor=actor, action="org.manage")

    return act(lambda: operations.set_department_active(dept, active, actor=actor),
               done="已启用" if active else "已停用", to=url_for("org.departments"))


@bp.route("/departments/<int:dept_id>/disable", methods=["POST"])
@permission("org.manage")
def department_disable(dept_id: int):
    return _toggle_department(dept_id, False)


@bp.route("/departments/<int:dept_id>/enable", methods=["POST"])
@permission("org.manage")
def department_enable(dept_id: int):
    return _toggle_department(dept_id, True)

