"""Forms of department dispatch: dispatch from the case page, and each step of an assignment (响应, 登记到达,
接办, 办结反馈, 撤回). Every view: parse → load the case through the scoped query (404) → the assignment by id
and case → one operation → commit → redirect. A refused form re-renders on its own page with 422."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for

from center.cases.queries import can_see, get_case_by_number_or_404
from center.departments import operations
from center.departments.panel import STEP_LABELS, dispatch_context
from center.departments.queries import get_assignment_or_404
from center.departments.schemas import ArriveArgs, CompleteArgs, DispatchArgs, StepArgs, WithdrawArgs
from core.auth.decorators import permission
from core.auth.permissions import has_permission
from core.db import db
from core.org.models import Department
from core.web import current_actor, safe_next, submit

bp = Blueprint("departments", __name__, url_prefix="/cases", template_folder="templates")

ASSIGNMENT = "/<number>/assignments/<int(min=1, max=2147483647):assignment_id>"


def _after(case, actor, args) -> str:
    """Back where the form came from; a department that just finished (or lost) the case goes to its desk."""
    if not can_see(actor, case):
        return url_for("center_desk.department") if has_permission(actor, "desk.department") else "/"
    return safe_next(args.get("next"), url_for("cases.detail", number=case.number))


@bp.route("/<number>/assignments", methods=["POST"])
@permission("case.triage")
def dispatch(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def perform(args):
        department = db.session.get(Department, args["department_id"])
        a = operations.dispatch(case, department, actor=actor, task=args["task"], arrive_by=args.get("arrive_by"))
        verb = "已召集" if a.status == "summoned" else "已派单至"
        flash(f"{verb}{a.department.name}（{a.status_label}）", "success")
        return redirect(_after(case, actor, args))

    def context():
        fresh = get_case_by_number_or_404(number, actor=actor)
        return dispatch_context(fresh, actor)

    return submit(DispatchArgs(), perform, "departments/dispatch.html", context_fn=context)


def _step(number: str, assignment_id: int, step: str, schema, run):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    assignment = get_assignment_or_404(case, assignment_id)

    def perform(args):
        run(assignment, actor, args)
        flash(f"{assignment.department.name}：{STEP_LABELS[step]}已完成", "success")
        return redirect(_after(case, actor, args))

    def context():
        fresh = get_case_by_number_or_404(number, actor=actor)
        return {"case": fresh, "a": get_assignment_or_404(fresh, assignment_id), "step": step,
                "step_label": STEP_LABELS[step]}

    return submit(schema, perform, "departments/step.html", context_fn=context)


@bp.route(f"{ASSIGNMENT}/acknowledge", methods=["POST"])
@permission("case.handle")
def acknowledge(number: str, assignment_id: int):
    return _step(number, assignment_id, "acknowledge", StepArgs(),
                 lambda a, actor, args: operations.acknowledge(a, actor=actor))


@bp.route(f"{ASSIGNMENT}/arrive", methods=["POST"])
@permission("case.handle")
def arrive(number: str, assignment_id: int):
    return _step(number, assignment_id, "arrive", ArriveArgs(),
                 lambda a, actor, args: operations.record_arrival(a, actor=actor, at=args.get("arrived_at")))


@bp.route(f"{ASSIGNMENT}/take", methods=["POST"])
@permission("case.handle")
def take(number: str, assignment_id: int):
    return _step(number, assignment_id, "take", StepArgs(), lambda a, actor, args: operations.take(a, actor))


@bp.route(f"{ASSIGNMENT}/complete", methods=["POST"])
@permission("case.handle")
def complete(number: str, assignment_id: int):
    return _step(number, assignment_id, "complete", CompleteArgs(),
                 lambda a, actor, args: operations.complete(a, actor=actor, result=args["result"]))


@bp.route(f"{ASSIGNMENT}/withdraw", methods=["POST"])
@permission("case.triage")
def withdraw(number: str, assignment_id: int):
    return _step(number, assignment_id, "withdraw", WithdrawArgs(),
                 lambda a, actor, args: operations.withdraw(a, actor=actor, reason=args["reason"]))
