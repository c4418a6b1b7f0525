"""Progress notes and attachments of a case: the note form (with photos), 上传附件, and serving a file only to
those who may see its case (the scoped case load first, then the attachment by id AND case: else 404)."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, request, send_file, url_for

from center.cases import registry
from center.cases.attachments.notes import add_note, notes_of
from center.cases.attachments.operations import (
    CONTENT_TYPES,
    MAX_FILES,
    NOTE,
    PURPOSE_LABELS,
    attachments_of,
    check_files,
    get_attachment_or_404,
    max_bytes,
    prepare_before_writing,
    stored_path,
    upload,
)
from center.cases.attachments.schemas import NoteArgs, UploadArgs
from center.cases.queries import get_case_by_number_or_404
from core.auth.decorators import permission
from core.auth.permissions import can, require
from core.web import current_actor, submit

bp = Blueprint("case_files", __name__, url_prefix="/cases", template_folder="templates")

#: A file answered by ``download`` can never run as a page of ours, whatever it contains.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def purpose_options() -> list[tuple[str, str]]:
    return list(PURPOSE_LABELS.items())


def _files(name: str) -> list[tuple[str | None, bytes]]:
    """The uploaded files of a field, each read up to one byte over the limit (enough to refuse it). A file
    input left empty arrives as a part without a name and without bytes: not a file."""
    limit = max_bytes()
    out = []
    for storage in request.files.getlist(name):
        data = storage.stream.read(limit + 1)
        if not data and not storage.filename:
            continue
        out.append((storage.filename, data))
    return out


def _back(case, anchor: str):
    return redirect(url_for("cases.detail", number=case.number) + anchor)


def limits() -> dict:
    """What the forms tell the user: files per upload, MB per file, MB per request (MAX_CONTENT_LENGTH)."""
    from flask import current_app

    request_cap = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return {"max_files": MAX_FILES, "file_mb": f"{max_bytes() / 2**20:g}",
            "request_mb": f"{request_cap / 2**20:g}" if request_cap else None}


def _page(case, form_template: str, title: str) -> dict:
    return {"case": case, "form_template": form_template, "page_title": title, "purposes": purpose_options(),
            **limits()}


@bp.route("/<number>/notes", methods=["POST"])
@permission(NOTE)
def add_note_view(number: str):
    actor = current_actor()
    prepared = prepare_before_writing(_files("photos"), field="photos", images_only=True)
    case = get_case_by_number_or_404(number, actor=actor)
    require(actor, NOTE, case)

    def perform(args):
        photos = prepared()
        add_note(case, actor=actor, text=args["note"], photos=photos)
        flash("进展记录已保存" + (f"（含照片 {len(photos)} 张）" if photos else ""), "success")
        return _back(case, "#notes")

    return submit(NoteArgs(), perform, "cases/work_form.html",
                  **_page(case, "cases/_form_note.html", "添加进展记录"))


@bp.route("/<number>/attachments", methods=["POST"])
@permission(NOTE)
def upload_view(number: str):
    actor = current_actor()
    prepared = prepare_before_writing(_files("file"), field="file")
    case = get_case_by_number_or_404(number, actor=actor)
    require(actor, NOTE, case)

    def perform(args):
        files = prepared()
        rows = upload(case, files, actor=actor, purpose=args["purpose"])
        flash(f"已上传附件 {len(rows)} 个", "success")
        return _back(case, "#attachments")

    return submit(UploadArgs(), perform, "cases/work_form.html",
                  **_page(case, "cases/_form_upload.html", "上传附件"))


@bp.route("/<number>/attachments/<int(max=2147483647):attachment_id>")
@permission("case.read")
def download(number: str, attachment_id: int):
    case = get_case_by_number_or_404(number, actor=current_actor())
    row = get_attachment_or_404(case, attachment_id)
    if row.content_type not in CONTENT_TYPES:
        from core.errors import NotFound

        raise NotFound()
    inline = row.content_type.startswith("image/")
    # Read whole (≤ CASE_ATTACHMENT_MAX_BYTES): no file handle outlives the request, whoever reads the body.
    data = stored_path(row).read_bytes()
    response = send_file(io.BytesIO(data), mimetype=row.content_type, as_attachment=not inline,
                         download_name=row.filename, conditional=False, etag=False, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


def _panel(case, actor) -> dict | None:
    may_add = can(actor, NOTE, case)
    notes = notes_of(case)
    files = attachments_of(case)
    if not may_add and not notes and not files:
        return None
    return {"notes": notes, "files": files, "may_add": may_add, "purposes": purpose_options(),
            "purpose_labels": PURPOSE_LABELS, "limits": limits(), "form": {}, "errors": {}}


def demo_photo() -> bytes:
    """A small generated photo (a field with a ditch) for the demo note."""
    import io

    from PIL import Image, ImageDraw

    im = Image.new("RGB", (320, 240), (186, 214, 150))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, 320, 90), fill=(170, 205, 235))
    draw.polygon([(140, 240), (180, 240), (165, 90), (158, 90)], fill=(110, 90, 60))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def demo_seeder(_system_actor, context: dict) -> None:
    """A progress note with a photo on the dispute being mediated in 上坝村."""
    from sqlalchemy import select

    from core.accounts.models import User
    from core.actor import Actor
    from core.db import db

    case = context.get("cases", {}).get("d-mediate")
    cadre = db.session.scalar(select(User).where(User.username == "qs02.cadre"))
    if case is None or cadre is None:
        return
    photos = check_files([("现场照片.jpg", demo_photo())], field="photos", images_only=True)
    add_note(case, actor=Actor.for_user(cadre, channel="cli"), photos=photos,
             text="上门走访兄弟二人，初步了解赡养费用分担意见：兄长同意按月支付，弟弟要求先结清医药费。已约定下周再次调解。")


def init_app(app) -> None:
    """Registered from center.init_app (center.CASE_MODULES)."""
    from PIL import Image

    from center.cases.attachments.operations import MAX_JPEG_PIXELS
    from core import hooks

    # Pillow's own guard (a warning above it, which _clean_image makes an error; an error above twice it):
    # nothing larger than the largest accepted photo is ever decoded in this process.
    Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS
    app.register_blueprint(bp)
    hooks.register_demo_seeder("notes", demo_seeder)
    registry.register_panel(60, "cases/_panel_notes.html", _panel)
    registry.register_event_labels({"note": "进展记录", "attachment": "上传附件"})
    hooks.register_audit_labels({
        "case.attachment": "上传附件", "case.note": "记录进展",
    }, {
        "case_attachments": "附件",
    })
