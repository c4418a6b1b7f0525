"""The shared case list (/cases/: filters, search, paging), its .xlsx export (masked, audited) and the audited
reveal of a party's personal data.

Search is POST → redirect → GET too: the filter form posts to /cases/search, the search text is kept
server-side under a random id (center.cases.listing.search.save_search) and the list, its pager, queue tabs and export
carry only ``s=<id>`` beside the filters that say nothing about a person. No ID number, phone or name typed
into the search box reaches a URL, and so no access log, browser history or Referer header.

Reveal is POST → redirect → GET: the POST checks the permission and writes the audit row in its own request
transaction, and leaves a one-time grant (party id and time, never a value) in the server-side session; the
GET consumes the grant and renders the plain values once. A reload or a copied URL finds no grant and shows
nothing. The values are never stored, logged or cached (every page answers Cache-Control: no-store).
"""

from __future__ import annotations

import time
from urllib.parse import quote

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from center.cases import models
from center.cases.intake.operations import categories, reveal
from center.cases.listing.export import (
    build_workbook,
    export_details,
    export_rows,
    get_party_or_404,
    reveal_party,
)
from center.cases.listing.queues import QUEUE_LABELS, QUEUES, queue_row_clause, tally
from center.cases.listing.search import (
    Filters,
    SearchArgs,
    SearchExpired,
    filter_where,
    parse_filters,
    save_search,
    search_cases,
    search_form_values,
    unit_options,
)
from center.cases.presenters import next_deadlines, today_shanghai
from center.cases.queries import get_case_by_number_or_404
from core.auth.decorators import permission
from core.auth.permissions import can, require
from core.db import db
from core.errors import PermissionDenied, ValidationFailed
from core.web import commit, current_actor, form_data, load_form, submit

bp = Blueprint("case_list", __name__, url_prefix="/cases", template_folder="templates")

#: How long a reveal grant waits for its page (seconds).
GRANT_SECONDS = 120
GRANT_KEY = "reveal_grant"


def _page_context(actor) -> dict:
    return {"kind_labels": models.KIND_LABELS, "status_labels": models.STATUS_LABELS,
            "risk_labels": models.RISK_LABELS, "channel_labels": models.CHANNEL_LABELS,
            "categories": categories(), "units": unit_options(actor), "queues": QUEUES,
            "queue_labels": QUEUE_LABELS}


def _refused_list(actor, errors: dict):
    # A search text that came in the URL is not echoed back into the page.
    typed = {k: request.args.get(k, "") for k in request.args if k not in ("q", "s")}
    return render_template("cases/list.html", errors=errors, form=typed, page=None, filters=Filters(),
                           counts=None, **_page_context(actor)), 422


def _expired(args):
    flash("搜索已过期（保留 12 小时），请重新输入搜索内容", "warning")
    return redirect(url_for("case_list.index", **{k: v for k, v in args.items() if k not in ("s", "q", "page")}))


@bp.route("/")
@permission("case.read")
def index():
    actor = current_actor()
    try:
        filters = parse_filters(actor, request.args)
    except SearchExpired:
        return _expired(request.args)
    except ValidationFailed as exc:
        return _refused_list(actor, exc.errors)
    typed = {k: request.args.get(k, "") for k in request.args if k != "s"}
    if filters.values.get("q"):
        typed["q"] = filters.values["q"]
    today = today_shanghai()
    # The counts of the queues under the other filters (so a tab says how many it would show); the list's
    # own total is one of them (its queue's, or open plus done), and its clause theirs plus the queue's.
    others = Filters({k: v for k, v in filters.values.items() if k not in ("queue", "page")})
    base = filter_where(actor, others, today)
    counted = tally(actor, where=base, today=today, with_total=True)
    counts, queue = counted.queues, filters.values.get("queue")
    where = base.and_rows(lambda r: queue_row_clause(actor, queue, today, r)) if queue else base
    page = search_cases(actor, filters, today=today, where=where,
                        total=counts[queue] if queue else counted.total)
    return render_template("cases/list.html", errors={}, form=typed, page=page, filters=filters, counts=counts,
                           cases=page.cases, deadlines=next_deadlines(page.cases, today), **_page_context(actor))


@bp.route("/search", methods=["POST"])
@permission("case.read")
def search():
    """The filter form: the search text is saved server-side and the list opens with its id only."""
    actor = current_actor()

    def perform(args):
        values = search_form_values(actor, args)
        q = values.pop("q", None)
        saved = {"s": save_search(actor, q).id} if q else {}
        return redirect(url_for("case_list.index", **Filters(values).query_args(), **saved))

    return submit(SearchArgs(), perform, "cases/list.html", page=None, filters=Filters(), counts=None,
                  context_fn=lambda: _page_context(actor))


@bp.route("/export.xlsx")
@permission("case.export")
def export():
    from core.audit.operations import record_security_event

    actor = current_actor()
    try:
        filters = parse_filters(actor, request.args)
    except SearchExpired:
        return _expired(request.args)
    except ValidationFailed as exc:
        return _refused_list(actor, exc.errors)
    rows, truncated, plain = export_rows(actor, filters)  # masked: the full one asks why (export_full)
    # A GET that writes: the audit row goes in its own short transaction (DESIGN.md §4), before the file
    # leaves. Filter names and values and the row count only (the search text may be a name: not kept).
    db.session.rollback()  # end the request's read first (on SQLite our own write must not wait for it)
    record_security_event(actor, "case.exported", result="ok", object_type="cases", object_id=str(len(rows)),
                          changed=export_details(filters, len(rows), truncated, plain))
    return _xlsx(rows, truncated)


def _xlsx(rows, truncated: bool, cap: int | None = None):
    data = build_workbook(rows, truncated=truncated, **({"cap": cap} if cap else {}))
    name = f"事项清单-{today_shanghai():%Y%m%d}.xlsx"
    return data, 200, {
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f"attachment; filename=cases.xlsx; filename*=UTF-8''{quote(name)}"}


@bp.route("/export/full", methods=["GET", "POST"])
@permission("case.reveal")  # a bulk reveal; the export right too, below
def export_full():
    """The unmasked export: GET asks why (the filters of the list ride along), POST makes the file
    (center.cases.listing.reveal_export decides)."""
    from center.cases.listing import reveal_export

    actor = current_actor()
    source = {k: request.args.get(k) for k in request.args}  # the list's filters ride in the URL, both ways
    try:
        filters = parse_filters(actor, source)
    except SearchExpired:
        return _expired(request.args)
    except ValidationFailed as exc:
        return _refused_list(actor, exc.errors)
    require(actor, "case.export")
    if not reveal_export.may_export_unmasked(actor):
        raise PermissionDenied(reveal_export.NO_REVEAL, action="case.reveal")
    ctx = {"hidden": source, "cap": reveal_export.max_rows()}
    if request.method == "GET":
        return render_template("cases/export_full.html", form={}, errors={}, **ctx)
    try:
        args = load_form(reveal_export.ReasonArgs())
        rows, _plain = reveal_export.unmasked_export(actor, filters, reason=args["reason"])
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("cases/export_full.html", form=form_data(), errors=exc.errors, **ctx), 422
    commit()
    return _xlsx(rows, False)


@bp.route("/<number>/parties/<int(max=2147483647):party_id>/reveal", methods=["POST"])
@permission("case.reveal")
def reveal_post(number: str, party_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    party = get_party_or_404(case, party_id)
    reveal_party(case, party, actor=actor)
    commit()
    session[GRANT_KEY] = {"party": party.id, "at": int(time.time())}
    return redirect(url_for("case_list.revealed", number=case.number, party_id=party.id))


@bp.route("/<number>/parties/<int(max=2147483647):party_id>/revealed")
@permission("case.reveal")
def revealed(number: str, party_id: int):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)
    party = get_party_or_404(case, party_id)
    require(actor, "case.reveal", case)
    grant = session.pop(GRANT_KEY, None)
    fresh = (isinstance(grant, dict) and grant.get("party") == party.id
             and 0 <= time.time() - int(grant.get("at", 0)) <= GRANT_SECONDS)
    if not fresh:
        flash("完整信息只显示一次。如需再次查看，请点击“查看完整信息”（将再次记录）。", "warning")
        return redirect(url_for("cases.detail", number=case.number))
    response = render_template("cases/reveal.html", case=case, party=party, values=reveal(party),
                               role=models.PARTY_ROLE_LABELS[party.role],
                               id_type=models.ID_TYPE_LABELS.get(party.id_type) if party.id_type else None)
    return response, 200, {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


def _reveal_panel(case, actor):
    if not can(actor, "case.reveal", case) or not case.parties:
        return None
    parties = [{"id": p.id, "name": p.name, "role": models.PARTY_ROLE_LABELS[p.role],
                "has_data": bool(p.id_number_enc or p.phone_enc or p.address_enc)} for p in case.parties]
    return {"placement": "top", "parties": parties}


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    from center.cases import registry

    app.register_blueprint(bp)
    registry.register_panel(5, "cases/_panel_reveal.html", _reveal_panel)
    from core import hooks

    hooks.register_audit_labels({
        "case.exported": "导出事项清单", "case.party_revealed": "查看当事人完整信息",
    })
