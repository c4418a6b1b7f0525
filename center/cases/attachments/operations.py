"""Attachments of a case: type checked by content, photos cleaned, files stored outside the web root.

- Accepted: JPEG, PNG and WebP photos, and PDF. The type comes from the bytes, never from the name or the
  browser's Content-Type: Pillow must open and verify an image in one of those formats; a PDF must start
  with ``%PDF-`` and carry ``%%EOF`` near its end. A renamed executable, HTML page or SVG is refused (422).
- Photos are re-encoded by Pillow: EXIF orientation applied first, then every piece of metadata dropped
  (EXIF with GPS, XMP, ICC, text chunks) by rebuilding the image from its pixels; the longer edge is capped
  at ``MAX_EDGE``. PDFs are stored as they came.
- Pixels: read from the header and capped before anything is decoded (``MAX_DECODED_PIXELS`` and the caps
  beside it; → 422 naming the size), so one upload takes about 50 MB at most. The decoding runs before the
  request's write transaction (``prepare_before_writing``): a burst of photos never holds SQLite's lock.
- Size: ``CASE_ATTACHMENT_MAX_BYTES`` per file (default 10 MB, checked here → 422); the whole request is
  capped by Flask's ``MAX_CONTENT_LENGTH`` (→ 413 with the Chinese error page).
- Storage: ``CASE_ATTACHMENT_DIR`` (default ``<instance>/attachments``), content-addressed by SHA-256
  (``ab/abcdef…``), written to a temporary file in the same directory and renamed into place, so a reader
  never sees half a file. Identical content is stored once. Nothing is written before every file of a
  request passed its checks.
- Served only by ``attachment_views.download`` after the case's scoped load (404 outside jurisdiction).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from center.cases.models import Attachment, Case, CaseEvent
from center.cases.queries import can_see
from core.actor import Actor
from core.audit.operations import record
from core.auth.permissions import require
from core.db import db, get_or_404
from core.errors import NotFound, ValidationFailed
from core.work import timeline

logger = logging.getLogger(__name__)

#: Adding notes, photos and files: grid workers of the case's grid hold it too (DOMAIN.md §5).
NOTE = "case.note"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_EDGE = 2048
#: One upload never takes much more than about 50 MB (tests/center/test_upload_memory.py measures the peak
#: resident memory: 35–58 MB at each cap). Pillow holds 4 bytes a pixel (RGB too); while shrinking, the decoded
#: image, a half-resized one and the result (≤ MAX_EDGE, ≤ 17 MB) are alive together, and each later step frees
#: the previous image before its copy is made. The size comes from the header, checked before any decoding:
#: - PNG is decoded in full: at most MAX_DECODED_PIXELS;
#: - JPEG is decoded by libjpeg straight at 1/2, 1/4 or 1/8 scale, chosen so the decoded image keeps within
#:   MAX_DECODED_PIXELS (a 50 Mpx phone photo decodes at 1/4); a progressive JPEG holds all its coefficients
#:   (≈ 3 bytes a pixel of the full size) while it decodes, so its own cap is lower;
#: - WebP goes through libwebp's buffers (≈ 3 images each way), so its cap is lower still.
#: Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS) is set to MAX_JPEG_PIXELS at start-up.
MAX_DECODED_PIXELS = 6_000_000
MAX_JPEG_PIXELS = 50_000_000
MAX_PROGRESSIVE_JPEG_PIXELS = 12_000_000
MAX_WEBP_PIXELS = 3_000_000
MAX_FILES = 9
FILENAME_MAX = 100

IMAGE_TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
PDF_TYPE = ("application/pdf", ".pdf")
CONTENT_TYPES = frozenset([t for t, _ in IMAGE_TYPES.values()] + [PDF_TYPE[0]])
PURPOSE_LABELS = {"photo": "现场照片", "agreement": "协议/文书", "consent": "委托书/同意书", "receipt": "回执/凭证",
                  "other": "其他"}
STORAGE_KEY_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}")

REFUSED_TYPE = "只能上传 JPEG、PNG、WebP 图片或 PDF 文件（按文件内容识别，改扩展名无效）"
ONLY_PHOTOS = "进展记录只能附照片（JPEG、PNG、WebP），其他文件请用“上传附件”"


@dataclass(frozen=True)
class Prepared:
    """A file that passed its checks, ready to store: cleaned bytes and what they are."""

    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def max_bytes() -> int:
    from flask import current_app

    return int(current_app.config.get("CASE_ATTACHMENT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def attachment_dir() -> Path:
    from flask import current_app

    configured = current_app.config.get("CASE_ATTACHMENT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "attachments"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def clean_filename(name: str | None, extension: str) -> str:
    """The base name a user gave, without directories and control characters, with our extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base
    stem = stem[:FILENAME_MAX] or "附件"
    return stem + extension


# --- checks -------------------------------------------------------------------------------------------------

def _looks_like_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def _too_large(width: int, height: int, cap: int) -> ValidationFailed:
    size = f"（{width}×{height}）" if width and height else ""
    return ValidationFailed({"file": [f"图片尺寸过大{size}，请上传不超过 {cap / 1_000_000:g} 百万像素的图片"]})


def _jpeg_scale(width: int, height: int) -> int:
    """The DCT scale (1, 2, 4 or 8) a JPEG is decoded at: as small as the stored photo allows (its longer edge
    stays ≥ MAX_EDGE when the original has that many pixels), and small enough that the decoded image keeps
    within MAX_DECODED_PIXELS (a photo just under twice MAX_EDGE then comes out a little under it)."""
    target = min(1.0, MAX_EDGE / max(width, height))
    scale = 1
    while scale < 8 and width / (scale * 2) >= width * target and height / (scale * 2) >= height * target:
        scale *= 2
    while scale < 8 and -(-width // scale) * -(-height // scale) > MAX_DECODED_PIXELS:
        scale *= 2
    return scale


def _pixel_cap(fmt: str, probe) -> int:
    if fmt == "JPEG":
        # A progressive JPEG keeps every DCT coefficient of the full-size image in memory while it decodes.
        progressive = probe.info.get("progressive") or probe.info.get("progression")
        return MAX_PROGRESSIVE_JPEG_PIXELS if progressive else MAX_JPEG_PIXELS
    return MAX_WEBP_PIXELS if fmt == "WEBP" else MAX_DECODED_PIXELS


def _clean_image(data: bytes) -> tuple[str, bytes] | None:
    """(Pillow format, re-encoded bytes without metadata), or None when this is no accepted image.

    The size comes from the header before any pixel is decoded; each later step frees the previous image
    before the next copy is made (see MAX_DECODED_PIXELS)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Pillow only warns between Image.MAX_IMAGE_PIXELS and twice it: made an error here. (catch_warnings is
    # process-wide: under concurrent uploads a filter may be missed, and then the cap check below refuses.)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            try:
                probe = Image.open(io.BytesIO(data))  # reads the header only
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                # Over Pillow's own limit (MAX_JPEG_PIXELS, set by attachment_views.init_app): too large.
                raise _too_large(0, 0, MAX_JPEG_PIXELS) from None
            with probe:
                fmt = probe.format
                if fmt not in IMAGE_TYPES:
                    return None
                width, height = probe.size
                cap = _pixel_cap(fmt, probe)
                if width * height > cap:
                    raise _too_large(width, height, cap)
                probe.verify()
            with Image.open(io.BytesIO(data)) as im:
                if fmt == "JPEG":
                    scale = _jpeg_scale(width, height)
                    if scale > 1:  # libjpeg decodes straight to 1/2, 1/4 or 1/8 of the size
                        im.draft(im.mode if im.mode in ("L", "RGB") else "RGB",
                                 (max(1, width // scale), max(1, height // scale)))
                im.load()
                im.thumbnail((MAX_EDGE, MAX_EDGE), reducing_gap=None)  # in place: the decoded pixels go
            ImageOps.exif_transpose(im, in_place=True)  # the orientation is applied before the metadata goes
            mode = _target_mode(fmt, im)
            if im.mode != mode:
                im = im.convert(mode)
            # Rebuilt from the pixels alone: a new image carries no EXIF/GPS, XMP, ICC profile or text chunk.
            clean = Image.new(mode, im.size)
            clean.paste(im)
            del im
            out = io.BytesIO()
            if fmt == "JPEG":
                clean.save(out, "JPEG", quality=85)
            elif fmt == "PNG":
                clean.save(out, "PNG", compress_level=6)
            else:
                clean.save(out, "WEBP", quality=85)
        except ValidationFailed:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
                SyntaxError, ValueError, TypeError, EOFError, IndexError, KeyError, MemoryError):
            return None
    return fmt, out.getvalue()


def _target_mode(fmt: str, im) -> str:
    if im.mode == "P" or "transparency" in im.info:
        return "RGBA" if fmt != "JPEG" else "RGB"
    if fmt == "JPEG":
        return im.mode if im.mode in ("RGB", "L") else "RGB"
    if fmt == "WEBP":
        return im.mode if im.mode in ("RGB", "RGBA") else ("RGBA" if "A" in im.mode else "RGB")
    return im.mode if im.mode in ("1", "L", "LA", "RGB", "RGBA", "I", "I;16") else "RGBA"


def prepare_before_writing(files: list[tuple[str | None, bytes]], **kwargs) -> Callable[[], list[Prepared]]:
    """Decode and re-encode uploads before the request's write transaction: signing in has opened one (on
    SQLite a BEGIN IMMEDIATE, the database's single write lock); nothing is written yet, so it is ended first,
    and a slow decode of one grid worker's photos never holds the lock over another user's request. Returns
    a callable for the operation's ``perform``: the prepared files, or the refusal raised there (so the form
    shows it like any other error)."""
    session = db.session
    if not (session.new or session.dirty or session.deleted):  # never drop a change: keep its transaction
        session.rollback()
    try:
        prepared = check_files(files, **kwargs)
    except ValidationFailed as refused:
        error = refused  # the except name is unbound when the block ends

        def refuse() -> list[Prepared]:
            raise error
        return refuse
    return lambda: prepared


def check_file(filename: str | None, data: bytes, *, field: str = "file", images_only: bool = False) -> Prepared:
    """Check one uploaded file by its content; raise ValidationFailed({field: [中文]}) when refused."""
    limit = max_bytes()
    if not data:
        raise ValidationFailed({field: ["文件为空，请重新选择"]})
    if len(data) > limit:
        raise ValidationFailed({field: [f"文件过大：单个文件不能超过 {_mb(limit)}"]})
    if _looks_like_pdf(data):
        if images_only:
            raise ValidationFailed({field: [ONLY_PHOTOS]})
        return Prepared(clean_filename(filename, PDF_TYPE[1]), PDF_TYPE[0], data)
    try:
        cleaned = _clean_image(data)
    except ValidationFailed as exc:
        raise ValidationFailed({field: exc.errors["file"]}) from None
    if cleaned is None:
        raise ValidationFailed({field: [ONLY_PHOTOS if images_only else REFUSED_TYPE]})
    fmt, out = cleaned
    content_type, extension = IMAGE_TYPES[fmt]
    if len(out) > limit:
        raise ValidationFailed({field: [f"文件过大：单个文件不能超过 {_mb(limit)}"]})
    return Prepared(clean_filename(filename, extension), content_type, out)


def check_files(files: list[tuple[str | None, bytes]], *, field: str = "file",
                images_only: bool = False) -> list[Prepared]:
    if len(files) > MAX_FILES:
        raise ValidationFailed({field: [f"一次最多上传 {MAX_FILES} 个文件"]})
    return [check_file(name, data, field=field, images_only=images_only) for name, data in files]


# --- storage --------------------------------------------------------------------------------------------------

def store(prepared: Prepared) -> str:
    """Write the bytes under their SHA-256 (once), atomically; returns the storage key."""
    digest = prepared.sha256
    key = f"{digest[:2]}/{digest}"
    path = attachment_dir() / key
    if path.exists():
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(prepared.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return key


def stored_path(attachment: Attachment) -> Path:
    """The file of an attachment; NotFound if the key is malformed or the file is gone."""
    if not STORAGE_KEY_RE.fullmatch(attachment.storage_key or ""):
        raise NotFound()
    path = attachment_dir() / attachment.storage_key
    if not path.is_file():
        logger.error("attachment %s: stored file %s is missing", attachment.id, attachment.storage_key)
        raise NotFound()
    return path


# --- operations -----------------------------------------------------------------------------------------------

def attach(case: Case, files: list[Prepared], *, actor: Actor, purpose: str = "other",
           event: CaseEvent | None = None) -> list[Attachment]:
    """Store checked files and link them to the case (and to ``event``). The caller checked permission."""
    rows = []
    for prepared in files:
        row = Attachment(case_id=case.id, event_id=event.id if event is not None else None,
                         filename=prepared.filename, content_type=prepared.content_type, size=len(prepared.data),
                         sha256=prepared.sha256, storage_key=store(prepared), uploaded_by_user_id=actor.user_id,
                         purpose=purpose)
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    for row in rows:
        record(actor, "case.attachment", row, unit_id=case.handling_unit_id,
               changed=["filename", "content_type", "size", "sha256", "purpose"])
    return rows


def upload(case: Case, files: list[Prepared], *, actor: Actor, purpose: str = "other") -> list[Attachment]:
    """上传附件: checked files onto the case, one timeline entry naming them."""
    if not can_see(actor, case):
        raise NotFound()
    require(actor, NOTE, case)
    if purpose not in PURPOSE_LABELS:
        raise ValidationFailed({"purpose": ["请从列表中选择"]})
    if not files:
        raise ValidationFailed({"file": ["请选择要上传的文件"]})
    # attach() audits each stored file itself
    event = timeline.log(case, "attachment", actor=actor, audit=timeline.NO_AUDIT, changed=["attachments"],
                         note=f"上传{PURPOSE_LABELS[purpose]}：" + "、".join(f.filename for f in files))
    return attach(case, files, actor=actor, purpose=purpose, event=event)


def get_attachment_or_404(case: Case, attachment_id) -> Attachment:
    """An attachment of ``case`` (already loaded through its scoped query); any other id is 404."""
    return get_or_404(select(Attachment).where(Attachment.case_id == case.id), attachment_id)


def attachments_of(case: Case) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                   .order_by(Attachment.id)))
