"""The grid worker's phone pages (/m/): my tasks, a case with its timeline and actions (note or photo,
follow-up visit with the resident's evaluation, ask for escalation), and 代办 filing in three screens.

Phone-first and light: one column, big touch targets, no web fonts, one small script (offline drafts and
photo shrinking). Forms work without JavaScript; with it, a form submitted through ``mobile.js`` carries
``X-Draft-Submit`` and gets JSON {url} instead of a redirect, so the script can tell success from a lost
session (a redirect it may not follow).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from center.cases import models
from center.cases.attachments.operations import max_bytes, prepare_before_writing
from center.cases.intake.operations import RepeatCandidates, categories
from center.cases.presenters import next_deadlines
from center.cases.queries import get_case_by_number_or_404
from core.auth.decorators import permission
from core.crypto import mask
from core.db import db, utcnow
from core.desk import desk_unit
from core.errors import ValidationFailed
from core.timefmt import localtime
from core.web import current_actor, submit
from village import schemas
from village.todo import my_tasks

bp = Blueprint("mobile", __name__, url_prefix="/m", template_folder="templates", static_folder="static",
               static_url_path="/static")


def _done(url: str):
    """Where a successful phone form goes: JSON for the offline-draft script, a redirect otherwise."""
    if request.headers.get("X-Draft-Submit") == "1":
        return jsonify(url=url)
    return redirect(url)


def _files(name: str) -> list[tuple[str | None, bytes]]:
    """The chosen files of a field, each read up to one byte over the per-file limit (enough to refuse it)."""
    limit = max_bytes()
    return [(f.filename, f.read(limit + 1)) for f in request.files.getlist(name) if f and f.filename]


@bp.route("/")
@permission("desk.grid")
def home():
    actor = current_actor()
    grid = desk_unit(actor, "desk.grid")
    return render_template("mobile/home.html", grid=grid, village=grid.parent, tasks=my_tasks(actor, limit=30))


#: Photos shown on the phone case page (newest first); the rest are on the desk's case page.
PHOTOS_SHOWN = 12
#: The confirmation a saved phone form leaves on the case page (by the form's load schema).
SAVED = {schemas.NoteArgs: "进展已保存。", schemas.VisitArgs: "回访已保存，谢谢！",
         schemas.EscalationArgs: "上报申请已提交，办理单位会收到通知。"}


def _mask_name(name: str) -> str:
    """王秀兰 → 王**, as the intake desk's repeat candidates show a person."""
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def _residents(case) -> list[dict]:
    """The case's applicants, masked like every list (core.crypto.mask): the phone page shows who, not their data."""
    from center.cases.intake.operations import reveal

    rows = []
    for party in case.parties:
        if party.role != models.PartyRole.applicant:
            continue
        phone = reveal(party)["phone"] if party.phone_enc else None
        rows.append({"name": _mask_name(party.name), "phone": mask(phone, 3, 4) if phone else None,
                     "role": models.PARTY_ROLE_LABELS[party.role]})
    return rows


def _photos(case) -> list:
    from center.cases.attachments.operations import attachments_of

    images = [a for a in attachments_of(case) if (a.content_type or "").startswith("image/")]
    return images[::-1][:PHOTOS_SHOWN]


def _case_context(case):
    from center.cases.aftercare.operations import follow_ups_due
    from center.cases.attachments.notes import notes_of
    from village.operations import filing_place

    events = sorted(case.events, key=lambda e: (e.at, e.id), reverse=True)
    from center.cases import registry

    labels = registry.timeline_labels(case.kind)
    from center.cases.listing.queues import DONE

    return {"case": case, "labels": models, "events": events[:30], "action_labels": labels,
            "is_open": case.status not in DONE,
            "deadline": next_deadlines([case]).get(case.id), "visits_due": follow_ups_due(case),
            "notes": notes_of(case)[:10], "methods": models.VISIT_METHOD_LABELS, "ratings": models.RATING_LABELS,
            "residents": _residents(case), "photos": _photos(case), "place": filing_place(case)}


@bp.route("/cases/<number>")
@permission("case.read")
def case(number: str):
    case = get_case_by_number_or_404(number, actor=current_actor())
    return render_template("mobile/case.html", form={}, errors={}, **_case_context(case))


def _case_form(number: str, schema, perform):
    actor = current_actor()
    case = get_case_by_number_or_404(number, actor=actor)

    def ctx():
        return _case_context(get_case_by_number_or_404(number, actor=actor))

    def done(args):
        perform(case, actor, args)
        flash(SAVED[schema], "success")  # shown on the case page the redirect (or the draft script) opens
        return _done(url_for("mobile.case", number=number))

    return submit(schema(), done, "mobile/case.html", context_fn=ctx)


@bp.route("/cases/<number>/notes", methods=["POST"])
@permission("case.note")
def note(number: str):
    from center.cases.attachments.notes import add_note

    prepared = prepare_before_writing(_files("photos"), field="photos", images_only=True)

    def perform(case, actor, args):
        add_note(case, actor=actor, text=args["note"], photos=prepared())

    return _case_form(number, schemas.NoteArgs, perform)


@bp.route("/cases/<number>/follow-up", methods=["POST"])
@permission("case.followup")
def follow_up(number: str):
    from center.cases.aftercare.operations import record_visit

    def perform(case, actor, args):
        record_visit(case, actor=actor, visited_at=utcnow(), method=args["method"], notes=args["notes"],
                     rating=args.get("rating"))

    return _case_form(number, schemas.VisitArgs, perform)


@bp.route("/cases/<number>/escalation", methods=["POST"])
@permission("case.note")
def escalation(number: str):
    from village.operations import request_escalation

    def perform(case, actor, args):
        request_escalation(case, actor=actor, reason=args["reason"])

    return _case_form(number, schemas.EscalationArgs, perform)


def _filing_context():
    return {"categories": categories(), "id_types": {k: v for k, v in models.ID_TYPE_LABELS.items()
                                                     if k != models.IdType.uscc}}


@bp.route("/file", methods=["GET", "POST"])
@permission("desk.grid")  # files from the worker's own grid; the operation checks case.intake there
def file():
    from village.operations import file_for_resident

    actor = current_actor()
    grid = desk_unit(actor, "desk.grid")
    if request.method == "GET":
        return render_template("mobile/file.html", grid=grid, errors={},
                               form={"intake_key": uuid.uuid4().hex, "people_count": "1", "kind": "dispute"},
                               **_filing_context())

    # The registry's repeat candidates, kept as plain rows before submit() rolls back.
    shown: dict = {}
    # Photos are decoded before the write transaction (one worker's burst never holds the lock on others).
    prepared_photos = prepare_before_writing(_files("photos"), field="photos", images_only=True)
    prepared_consent = prepare_before_writing(_files("consent_photo")[:1], field="consent_photo")

    def perform(args):
        errors: dict[str, list[str]] = {}
        try:
            photos = prepared_photos()
        except ValidationFailed as exc:
            photos, errors = [], dict(exc.errors)
        consent_photo = None
        try:
            consent = prepared_consent()
            consent_photo = consent[0] if consent else None
        except ValidationFailed as exc:
            errors.update(exc.errors)
        if errors:
            raise ValidationFailed(errors)
        resident = {"name": args["name"], "id_type": args.get("id_type"), "id_number": args.get("id_number"),
                    "phone": args["phone"]}
        try:
            case, _created = file_for_resident(
                actor, grid=grid, kind=args["kind"], resident=resident, summary=args["summary"],
                demands=args.get("demands"), category=args["category"], place=args.get("place"),
                people_count=args["people_count"], consent=args["consent"], photos=photos,
                consent_photo=consent_photo, intake_key=args["intake_key"], repeat_of=args.get("repeat_of"))
        except RepeatCandidates as exc:
            # what she needs to judge "the same matter?" without leaving the form, and a link to the case
            shown["candidates"] = [{"number": c.number, "summary": c.summary, "status": c.status_label,
                                    "unit": c.handling_unit.name, "on": localtime(c.received_at, "%Y-%m-%d"),
                                    "url": url_for("mobile.case", number=c.number)} for c in exc.candidates]
            raise
        db.session.flush()
        return _done(url_for("mobile.case", number=case.number, filed=1))

    return submit(schemas.AgentFilingArgs(), perform, "mobile/file.html", context_fn=lambda: dict(shown), grid=grid,
                  **_filing_context())
