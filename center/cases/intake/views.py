"""Intake (登记) and triage/routing (分流) pages of the case registry.

- ``/cases/new``: the intake form, with repeat detection before saving (the clerk links the new case to an
  earlier one or says it is not a repeat) and an idempotency key against double submits;
- ``/cases/<number>/transitions/<action>``: one POST per state-machine transition (evaluation and 终结 have
  their own pages), refused with 422 (not allowed now) or 403 (not this actor's to do);
- ``/cases/<number>/owner`` and ``/regrade``: owner leader (包案), handling person and risk colour.
The case page shows the forms through two panels (registry.register_panel). A refused form re-renders the
case page with the message and the typed values, status 422, nothing changed.
"""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)

from center.cases import registry
from center.cases.intake.operations import RepeatCandidates, categories, file_case, reveal
from center.cases.intake.schemas import (
    LEGAL_CHANNELS,
    IntakeArgs,
    OwnerArgs,
    RegradeArgs,
    TransitionArgs,
    parties_from,
)
from center.cases.intake.similarity import similarity
from center.cases.lifecycle import operations as lifecycle
from center.cases.models import (
    CHANNEL_LABELS,
    ID_TYPE_LABELS,
    KIND_LABELS,
    PETITION_CLASS_LABELS,
    RISK_LABELS,
    STATUS_LABELS,
)
from center.cases.queries import can_see, get_case_by_number_or_404
from center.cases.routing import operations as routing
from center.cases.routing import units
from core.accounts.models import Role, User
from core.auth.decorators import permission
from core.auth.permissions import can, granting
from core.crypto import mask
from core.db import db
from core.errors import InvalidTransition, NotFound, ValidationFailed
from core.org.models import OrgUnit
from core.web import commit, current_actor, form_data, load_form, submit

bp = Blueprint("case_intake", __name__, url_prefix="/cases", template_folder="templates")

#: Transitions with pages of their own (center.cases.aftercare.views, center.cases.reviews.views): not offered by
#: the triage panel.
OWN_PAGES = frozenset({"evaluate", "terminate"})
FORM_ACTIONS = frozenset(lifecycle.ACTIONS) - OWN_PAGES
EVENT_LABELS = {"assign_owner": "指定包案领导/承办人", "regrade": "调整风险等级"}


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    app.register_blueprint(bp)
    registry.register_panel(15, "cases/_panel_owner.html", owner_panel)
    registry.register_panel(20, "cases/_panel_triage.html", triage_panel)
    registry.register_event_labels(EVENT_LABELS)
    # The audit log's names for the case's own steps: registration, the transitions, owner and risk, the clock.
    from core import hooks

    hooks.register_audit_labels({
        "case.registered": "登记事项", "case.accept": "受理", "case.not_accept": "不予受理", "case.hand_down": "交办",
        "case.escalate": "上报", "case.start": "开始办理", "case.mediate": "开始调解",
        "case.refer_mediation": "转人民调解", "case.answer": "答复", "case.close": "办结", "case.evaluate": "评价",
        "case.reopen": "重新办理", "case.guide_to_legal": "导入法定程序", "case.terminate": "终结",
        "case.assign_owner": "指定包案领导/承办人", "case.regrade": "调整风险等级", "case.deadlines_recomputed": "期限重算",
    }, {
        "cases": "事项", "case_deadlines": "办理期限",
    })


# --- intake -------------------------------------------------------------------------------------------------

def _unit_options(rows: list[OrgUnit]) -> list[tuple[str, str]]:
    top = min((u.depth for u in rows), default=0)
    return [(str(u.id), "　" * (u.depth - top) + u.name) for u in rows]


def _intake_context(actor) -> dict:
    """The form's options, from the same functions the operation decides with (center.cases.routing.units)."""
    return {
        "unit_options": _unit_options(units.intake_units(actor)),
        "handling_options": _unit_options(units.intake_handling_units(actor)),
        "accused_options": _unit_options(units.accused_unit_options(actor)),
        "kind_options": [(k.value, v) for k, v in KIND_LABELS.items()],
        "class_options": [(k.value, v) for k, v in PETITION_CLASS_LABELS.items()],
        "category_options": [(c, c) for c in categories()],
        "channel_options": [(k.value, v) for k, v in CHANNEL_LABELS.items()],
        "risk_options": [(k.value, v) for k, v in RISK_LABELS.items()],
        "id_type_options": [(k.value, v) for k, v in ID_TYPE_LABELS.items()],
        "party_kind_options": [("person", "个人"), ("organisation", "单位")],
        "candidates": [],
    }


def _form_errors(errors: dict, has_respondent: bool) -> dict:
    """Operation field names (parties.0.phone) → form field names (applicant_phone)."""
    prefixes = {"0": "applicant", "1": "respondent" if has_respondent else "applicant"}
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[0] == "parties" and len(parts) == 3:
            key = f"{prefixes.get(parts[1], 'applicant')}_{parts[2]}"
        elif key == "parties":
            key = "applicant_name"
        out.setdefault(key, []).extend(messages)
    return out


def _mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def _candidate_rows(cases, summary: str, actor) -> list[dict]:
    """The earlier cases the clerk is asked about, each named and linked to its page (the candidates come from
    a scoped query; ``visible`` says so again for the link, and a summary is shown only with it)."""
    rows = []
    for case in cases:
        visible = can_see(actor, case)
        people = []
        for p in case.parties:
            phone = reveal(p)["phone"] or ""
            people.append(f"{_mask_name(p.name)} {mask(phone, 3, 4)}".strip())
        rows.append({"number": case.number, "summary": case.summary if visible else "", "visible": visible,
                     "received_at": case.received_at, "status": STATUS_LABELS[case.status],
                     "unit": case.handling_unit.name, "parties": "、".join(people),
                     "score": round(similarity(summary, case.summary) * 100)})
    return rows


@bp.route("/new", methods=["GET", "POST"])
@permission("case.intake")
def new():
    actor = current_actor()
    if request.method == "GET":
        ids = {str(u.id) for u in units.intake_units(actor)}
        own = next((str(m.unit_id) for m in granting(actor, units.INTAKE) if str(m.unit_id) in ids), "")
        chosen = request.args.get("unit", "")
        grid_worker = any(m.role == Role.grid_worker for m in actor.memberships)
        form = {"kind": "dispute", "channel": "grid_agent" if grid_worker else "visit", "risk_colour": "yellow",
                "people_count": "1", "origin_unit_id": chosen if chosen in ids else own,
                "intake_key": uuid.uuid4().hex, "applicant_kind": "person", "applicant_id_type": "resident_id",
                "category": "其他" if "其他" in categories() else ""}
        return render_template("cases/new.html", form=form, errors={}, **_intake_context(actor))

    # Filled when the operation finds repeat candidates: rows built before submit() rolls back.
    shown: dict = {}

    def perform(args):
        # Every rule (units, intake key, repeats) is file_case's: the form only maps its field names.
        parties = parties_from(args)
        try:
            given = units.load_units(origin_unit_id=args["origin_unit_id"],
                                     handling_unit_id=args.get("handling_unit_id"),
                                     accused_unit_id=args.get("accused_unit_id"))
            case, created = file_case(
                actor, kind=args["kind"], summary=args["summary"], category=args["category"],
                channel=args["channel"], origin_unit=given["origin_unit_id"], handling_unit=given["handling_unit_id"],
                accused_unit=given["accused_unit_id"], parties=parties, petition_class=args.get("petition_class"),
                demands=args.get("demands"), people_count=args["people_count"], risk_colour=args["risk_colour"],
                repeat_of=args.get("repeat_of"), xinfang_no=args.get("xinfang_no"),
                hotline_ticket=args.get("hotline_ticket"), court_case_no=args.get("court_case_no"),
                occurred_on=args.get("occurred_on"), intake_key=args.get("intake_key"))
        except RepeatCandidates as exc:
            shown["candidates"] = _candidate_rows(exc.candidates, args["summary"], actor)
            raise
        except ValidationFailed as exc:
            raise ValidationFailed(_form_errors(exc.errors, len(parties) > 1)) from None
        if not created:
            flash(f"该事项已登记（{case.number}），未重复登记", "success")
        else:
            flash(f"已登记，事项编号 {case.number}", "success")
        return redirect(url_for("cases.detail", number=case.number))

    return submit(IntakeArgs(), perform, "cases/new.html", context_fn=lambda: {**_intake_context(actor), **shown})


# --- the case page: re-rendered with a refused form ---------------------------------------------------------

def _refused(number: str, panel: str, action: str, errors: dict):
    """The case page again, showing the refused form with its messages and the typed values (422)."""
    db.session.rollback()
    g.case_form = {"panel": panel, "action": action, "errors": errors, "form": form_data()}
    return current_app.view_functions["cases.detail"](number=number), 422


def _failed(panel: str) -> dict | None:
    state = g.get("case_form") if has_request_context() else None
    return state if state and state["panel"] == panel else None


def _as_user(value, field: str) -> User | None:
    if value is None:
        return None
    user = db.session.get(User, value) if 0 < value < 2**31 else None
    if user is None:
        raise ValidationFailed({field: ["请从列表中选择人员"]})
    return user


def _transition_inputs(case, action: str, args: dict) -> dict:
    """The form's fields as ``lifecycle.transition`` takes them. The rules on them (不予受理 needs a reason,
    导入法定程序 a legal channel, which units may receive the case) are the transition's, as for the API."""
    kwargs: dict = {"note": args.get("remark"), "legal_channel": args.get("legal_channel")}
    if action in ("hand_down", "escalate"):
        kwargs["unit"] = units.load_units(unit_id=args.get("unit_id"))["unit_id"]
    if action == "transfer":
        kwargs["department"] = units.load_department(args.get("department_id"))
    if action == "refer_mediation":
        kwargs["consent"] = frozenset(who for who in ("applicant", "respondent") if args.get(f"consent_{who}"))
    return kwargs


@bp.route("/<number>/transitions/<action>", methods=["POST"])
@permission("case.read")
def transition(number: str, action: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    if action not in FORM_ACTIONS:
        raise NotFound()
    # No permission pre-check: transition's own require answers 403 (and records the denial) for every channel.
    try:
        args = load_form(TransitionArgs())
        lifecycle.transition(case, action, actor=actor, **_transition_inputs(case, action, args))
        commit()
    except ValidationFailed as exc:
        return _refused(number, "triage", action, {("remark" if k == "note" else k): v
                                                   for k, v in exc.errors.items()})
    except InvalidTransition as exc:
        return _refused(number, "triage", action, {"action": [exc.message]})
    flash(f"已执行：{lifecycle.transition_for(case.kind, action).label}", "success")
    return redirect(url_for("cases.detail", number=number))


@bp.route("/<number>/owner", methods=["POST"])
@permission("case.triage")
def owner(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    try:  # assign_owner requires case.triage itself (403)
        args = load_form(OwnerArgs())
        routing.assign_owner(case, actor=actor, owner_leader=_as_user(args.get("owner_leader_id"), "owner_leader_id"),
                             assignee=_as_user(args.get("assignee_id"), "assignee_id"))
        commit()
    except ValidationFailed as exc:
        return _refused(number, "owner", "owner", exc.errors)
    flash("已更新包案领导/承办人", "success")
    return redirect(url_for("cases.detail", number=number))


@bp.route("/<number>/regrade", methods=["POST"])
@permission("case.triage")
def regrade(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    try:  # regrade requires case.triage itself (403)
        args = load_form(RegradeArgs())
        routing.regrade(case, args["new_colour"], actor=actor, reason=args["regrade_reason"])
        commit()
    except ValidationFailed as exc:
        renamed = {"risk_colour": "new_colour", "reason": "regrade_reason"}
        return _refused(number, "owner", "regrade", {renamed.get(k, k): v for k, v in exc.errors.items()})
    flash("已调整风险等级", "success")
    return redirect(url_for("cases.detail", number=number))


# --- panels -------------------------------------------------------------------------------------------------

def _hand_down_options(case) -> list[tuple[str, str]]:
    return _unit_options(units.hand_down_targets(case))


def _escalate_options(case) -> list[tuple[str, str]]:
    return [(str(u.id), u.name) for u in units.escalation_targets(case)]


def _transfer_options(case) -> list[tuple[str, str]]:
    return [(str(d.id), d.name) for d in lifecycle.transfer_departments(case)]


def _action_form(case, t) -> dict:
    form = {"action": t.action, "label": t.label, "url": url_for("case_intake.transition", number=case.number,
                                                                action=t.action),
            "note_required": t.action in ("not_accept", "return"), "danger": t.action in ("not_accept", "close")}
    form["note_label"] = {"not_accept": "不予受理理由", "guide_to_legal": "说明",
                          "return": "退回理由"}.get(t.action, "说明（可不填）")
    if t.action == "hand_down":
        form["units"] = _hand_down_options(case)
    elif t.action == "escalate":
        form["units"] = _escalate_options(case)
    elif t.action == "transfer":
        form["departments"] = _transfer_options(case)
    elif t.action == "guide_to_legal":
        form["legal"] = list(LEGAL_CHANNELS.items())
    elif t.action == "refer_mediation":
        form["consent"] = True
    elif t.action == "close":
        from center.cases.lifecycle.closing import missing_for_close

        form["missing"] = missing_for_close(case)
    return form


def triage_panel(case, actor) -> dict | None:
    failed = _failed("triage")
    if failed is not None:
        spec = lifecycle.transition_for(case.kind, failed["action"])
        forms = [_action_form(case, spec)] if spec is not None else []
        return {"forms": forms, "failed": failed}
    forms = [_action_form(case, t) for t in lifecycle.allowed_actions(case)
             if t.action not in OWN_PAGES and can(actor, t.permission, case)]
    # A step whose only choice cannot succeed is not offered (交办 with no unit below that may take it, 转送
    # with no department to receive it, 上报 at the top).
    forms = [f for f in forms if f.get("units", True) and f.get("departments", True)]
    return {"forms": forms, "failed": None} if forms else None


def _user_label(user: User) -> str:
    return f"{user.display_name}（{user.title}）" if user.title else user.display_name


def owner_panel(case, actor) -> dict | None:
    failed = _failed("owner")
    editable = case.status not in lifecycle.FINAL_STATUSES and can(actor, routing.ASSIGN, case)
    ctx = {"owner": case.owner_leader, "assignee": case.assignee, "level": routing.describe_level(case),
           "required": routing.owner_required(case.risk_colour), "risk_label": RISK_LABELS[case.risk_colour],
           "mismatch": case.owner_leader is not None and not routing.qualifies_as_owner(case, case.owner_leader),
           "editable": editable, "failed": failed, "user_label": _user_label}
    if editable:
        form = dict(failed["form"]) if failed else {}
        if not failed:
            form = {"owner_leader_id": str(case.owner_leader_user_id or ""),
                    "assignee_id": str(case.assignee_user_id or ""), "new_colour": ""}
        ctx.update(form=form, errors=failed["errors"] if failed else {}, failed_action=failed and failed["action"],
                   owner_options=[(str(u.id), _user_label(u)) for u in routing.owner_candidates(case)],
                   assignee_options=[(str(u.id), _user_label(u)) for u in routing.assignee_candidates(case)],
                   risk_options=[(k.value, f"{v}色") for k, v in RISK_LABELS.items() if k != case.risk_colour])
    return ctx


