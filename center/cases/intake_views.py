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
from sqlalchemy import or_, select, true

from center.cases import lifecycle, registry, routing
from center.cases.models import (
    CHANNEL_LABELS,
    ID_TYPE_LABELS,
    KIND_LABELS,
    PETITION_CLASS_LABELS,
    RISK_LABELS,
    STATUS_LABELS,
    CaseKind,
)
from center.cases.operations import (
    case_for_intake_key,
    categories,
    district_of,
    find_repeat_candidates,
    register_case,
    reveal,
)
from center.cases.queries import get_case_by_number_or_404
from center.cases.schemas import (
    LEGAL_CHANNELS,
    IntakeArgs,
    OwnerArgs,
    RegradeArgs,
    TransitionArgs,
    parties_from,
)
from center.cases.similarity import similarity
from core.accounts.models import Role, User
from core.auth.decorators import permission
from core.auth.permissions import can, granting
from core.auth.scoping import subtree_clause
from core.crypto import mask
from core.db import db
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from core.org.models import OrgUnit, UnitKind
from core.web import commit, current_actor, form_data, load_form, submit

bp = Blueprint("case_intake", __name__, url_prefix="/cases", template_folder="templates")

#: Transitions with pages of their own (center.cases.aftercare_views): not offered by the triage panel.
OWN_PAGES = frozenset({"evaluate", "terminate"})
FORM_ACTIONS = frozenset(lifecycle.ACTIONS) - OWN_PAGES
EVENT_LABELS = {"assign_owner": "指定包案领导/承办人", "regrade": "调整风险等级"}


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    app.register_blueprint(bp)
    registry.register_panel(15, "cases/_panel_owner.html", owner_panel)
    registry.register_panel(20, "cases/_panel_triage.html", triage_panel)
    registry.register_event_labels(EVENT_LABELS)


# --- intake -------------------------------------------------------------------------------------------------

def intake_units(actor) -> list[OrgUnit]:
    """Units the actor may register a case at: the subtrees of their case.intake memberships; grids only
    below a village or grid membership (a township or district clerk files at village level or above)."""
    arms = []
    for m in granting(actor, "case.intake"):
        if m.unit is None:
            continue
        with_grids = m.unit.tier in ("village", "grid")
        arms.append(subtree_clause(OrgUnit.path, m.unit.path)
                    & (true() if with_grids else OrgUnit.kind != UnitKind.grid))
    if not arms:
        return []
    return list(db.session.scalars(select(OrgUnit).where(or_(*arms), OrgUnit.is_active.is_(True))
                                   .order_by(OrgUnit.code)))


def _unit_options(units: list[OrgUnit]) -> list[tuple[str, str]]:
    top = min((u.depth for u in units), default=0)
    return [(str(u.id), "　" * (u.depth - top) + u.name) for u in units]


def _accused_units(units: list[OrgUnit]) -> list[OrgUnit]:
    """Units of the actor's districts an accusation may name (not grids)."""
    roots = sorted({u.ancestor_ids[0] for u in units})
    if not roots:
        return []
    paths = [db.session.get(OrgUnit, r).path for r in roots]
    return list(db.session.scalars(select(OrgUnit).where(or_(*[subtree_clause(OrgUnit.path, p) for p in paths]),
                                                         OrgUnit.kind != UnitKind.grid)
                                   .order_by(OrgUnit.code)))


def _intake_context(units: list[OrgUnit]) -> dict:
    return {
        "unit_options": _unit_options(units),
        "accused_options": _unit_options(_accused_units(units)),
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
        elif key == "handling_unit_id":
            key = "origin_unit_id"
        out.setdefault(key, []).extend(messages)
    return out


def _mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def _candidate_rows(cases, summary: str) -> list[dict]:
    rows = []
    for case in cases:
        people = []
        for p in case.parties:
            phone = reveal(p)["phone"] or ""
            people.append(f"{_mask_name(p.name)} {mask(phone, 3, 4)}".strip())
        rows.append({"number": case.number, "summary": case.summary, "received_at": case.received_at,
                     "status": STATUS_LABELS[case.status], "unit": case.handling_unit.name,
                     "parties": "、".join(people), "score": round(similarity(summary, case.summary) * 100)})
    return rows


@bp.route("/new", methods=["GET", "POST"])
@permission("case.intake")
def new():
    actor = current_actor()
    if request.method == "GET":
        units = intake_units(actor)
        ids = {str(u.id) for u in units}
        own = next((str(m.unit_id) for m in granting(actor, "case.intake") if str(m.unit_id) in ids), "")
        chosen = request.args.get("unit", "")
        grid_worker = any(m.role == Role.grid_worker for m in actor.memberships)
        form = {"kind": "dispute", "channel": "grid_agent" if grid_worker else "visit", "risk_colour": "yellow",
                "people_count": "1", "origin_unit_id": chosen if chosen in ids else own,
                "intake_key": uuid.uuid4().hex, "applicant_kind": "person", "applicant_id_type": "resident_id",
                "category": "其他" if "其他" in categories() else ""}
        return render_template("cases/new.html", form=form, errors={}, **_intake_context(units))

    def perform(args):
        units = intake_units(actor)
        by_id = {u.id: u for u in units}
        origin = by_id.get(args["origin_unit_id"])
        errors: dict[str, list[str]] = {}
        if origin is None:
            errors["origin_unit_id"] = ["请从列表中选择本辖区内的登记单位"]
        accused = None
        if args.get("accused_unit_id") is not None:
            accused = {u.id: u for u in _accused_units(units)}.get(args["accused_unit_id"])
            if accused is None:
                errors["accused_unit_id"] = ["请从列表中选择被检举控告的单位"]
        if errors:
            raise ValidationFailed(errors)
        parties = parties_from(args)
        has_respondent = len(parties) > 1
        existing = case_for_intake_key(actor, args.get("intake_key"))
        if existing is not None:
            flash(f"该事项已登记（{existing.number}），未重复登记", "success")
            return redirect(url_for("cases.detail", number=existing.number))
        choice, repeat_of = args.get("repeat_of"), None
        if choice is None:
            try:
                candidates = find_repeat_candidates(actor, parties, district=district_of(origin),
                                                    summary=args["summary"])
            except ValidationFailed:
                candidates = []  # bad party data: register_case below names every problem at once
            if candidates:
                return render_template("cases/new.html", form=form_data(), errors={},
                                       **{**_intake_context(units),
                                          "candidates": _candidate_rows(candidates, args["summary"])})
        elif choice != "none":
            try:
                repeat_of = get_case_by_number_or_404(choice, actor=actor)
            except NotFound:
                raise ValidationFailed({"repeat_of": ["所选的重复事项不存在或不在您的辖区内"]}) from None
        try:
            case = register_case(
                actor, kind=args["kind"], summary=args["summary"], category=args["category"],
                channel=args["channel"], origin_unit=origin, parties=parties,
                petition_class=args.get("petition_class"), demands=args.get("demands"),
                people_count=args["people_count"], risk_colour=args["risk_colour"], accused_unit=accused,
                repeat_of=repeat_of, xinfang_no=args.get("xinfang_no"), hotline_ticket=args.get("hotline_ticket"),
                court_case_no=args.get("court_case_no"), occurred_on=args.get("occurred_on"),
                intake_key=args.get("intake_key"), note=f"重复件，关联 {repeat_of.number}" if repeat_of else None)
        except ValidationFailed as exc:
            raise ValidationFailed(_form_errors(exc.errors, has_respondent)) from None
        flash(f"已登记，事项编号 {case.number}", "success")
        return redirect(url_for("cases.detail", number=case.number))

    return submit(IntakeArgs(), perform, "cases/new.html", context_fn=lambda: _intake_context(intake_units(actor)))


# --- the case page: re-rendered with a refused form ---------------------------------------------------------

def _refused(number: str, panel: str, action: str, errors: dict):
    """The case page again, showing the refused form with its messages and the typed values (422)."""
    db.session.rollback()
    g.case_form = {"panel": panel, "action": action, "errors": errors, "form": form_data()}
    return current_app.view_functions["cases.detail"](number=number), 422


def _failed(panel: str) -> dict | None:
    state = g.get("case_form") if has_request_context() else None
    return state if state and state["panel"] == panel else None


def _as_unit(value) -> OrgUnit | None:
    if value is None:
        return None
    unit = db.session.get(OrgUnit, value) if 0 < value < 2**31 else None
    if unit is None:
        raise ValidationFailed({"unit_id": ["请从列表中选择单位"]})
    return unit


def _as_user(value, field: str) -> User | None:
    if value is None:
        return None
    user = db.session.get(User, value) if 0 < value < 2**31 else None
    if user is None:
        raise ValidationFailed({field: ["请从列表中选择人员"]})
    return user


def _transition_inputs(case, action: str, args: dict) -> dict:
    note = args.get("remark")
    kwargs: dict = {"note": note}
    if action == "not_accept" and not note:
        raise ValidationFailed({"remark": ["请填写不予受理的理由（将写入不予受理告知）"]})
    if action == "guide_to_legal":
        channel = args.get("legal_channel")
        if not channel:
            raise ValidationFailed({"legal_channel": ["请选择导入的法定途径：诉讼、仲裁或行政复议"]})
        kwargs["note"] = f"导入{LEGAL_CHANNELS[channel]}程序" + (f"：{note}" if note else "")
    if action in ("hand_down", "escalate"):
        kwargs["unit"] = _as_unit(args.get("unit_id"))
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
    spec = lifecycle.transition_for(case.kind, action)
    if spec is not None and not can(actor, spec.permission, case):
        raise PermissionDenied(action=spec.permission)
    try:
        args = load_form(TransitionArgs())
        lifecycle.transition(case, action, actor=actor, **_transition_inputs(case, action, args))
        commit()
    except ValidationFailed as exc:
        return _refused(number, "triage", action, {("remark" if k == "note" else k): v
                                                   for k, v in exc.errors.items()})
    except InvalidTransition as exc:
        return _refused(number, "triage", action, {"action": [exc.message]})
    flash(f"已执行：{spec.label}", "success")
    return redirect(url_for("cases.detail", number=number))


@bp.route("/<number>/owner", methods=["POST"])
@permission("case.triage")
def owner(number: str):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    if not can(actor, routing.TRIAGE, case):
        raise PermissionDenied(action=routing.TRIAGE)
    try:
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
    if not can(actor, routing.TRIAGE, case):
        raise PermissionDenied(action=routing.TRIAGE)
    try:
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
    handling = case.handling_unit
    stmt = select(OrgUnit).where(subtree_clause(OrgUnit.path, handling.path), OrgUnit.id != handling.id,
                                 OrgUnit.kind != UnitKind.grid, OrgUnit.is_active.is_(True))
    if case.kind == CaseKind.petition:
        stmt = stmt.where(OrgUnit.kind.not_in([UnitKind.village, UnitKind.community]))
    return _unit_options(list(db.session.scalars(stmt.order_by(OrgUnit.code))))


def _escalate_options(case) -> list[tuple[str, str]]:
    ids = case.handling_unit.ancestor_ids[:-1]
    units = [db.session.get(OrgUnit, i) for i in reversed(ids)]
    return [(str(u.id), u.name) for u in units]


def _action_form(case, t) -> dict:
    form = {"action": t.action, "label": t.label, "url": url_for("case_intake.transition", number=case.number,
                                                                action=t.action),
            "note_required": t.action == "not_accept", "danger": t.action in ("not_accept", "close")}
    form["note_label"] = {"not_accept": "不予受理理由", "guide_to_legal": "说明"}.get(t.action, "说明（可不填）")
    if t.action == "hand_down":
        form["units"] = _hand_down_options(case)
    elif t.action == "escalate":
        form["units"] = _escalate_options(case)
    elif t.action == "guide_to_legal":
        form["legal"] = list(LEGAL_CHANNELS.items())
    elif t.action == "refer_mediation":
        form["consent"] = True
    elif t.action == "close":
        from center.cases.closing import missing_for_close

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
    return {"forms": forms, "failed": None} if forms else None


def _user_label(user: User) -> str:
    return f"{user.display_name}（{user.title}）" if user.title else user.display_name


def owner_panel(case, actor) -> dict | None:
    failed = _failed("owner")
    editable = case.status not in lifecycle.FINAL_STATUSES and can(actor, routing.TRIAGE, case)
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


