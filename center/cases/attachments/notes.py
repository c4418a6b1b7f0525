"""Progress notes (进展记录): a line on the case's timeline, with optional photos, by anyone working the case —
including the grid worker of the case's grid, who sees the case through its origin unit (DOMAIN.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from center.cases.attachments.operations import NOTE, Prepared, attach
from center.cases.models import Attachment, Case, CaseEvent
from center.cases.queries import can_see
from core.accounts.models import User
from core.actor import Actor
from core.auth.permissions import require
from core.db import db
from core.errors import NotFound, ValidationFailed
from core.work import timeline

NOTE_MAX = 2000


def add_note(case: Case, *, actor: Actor, text: str, photos: list[Prepared] = ()) -> CaseEvent:
    """A progress note; ``photos`` were checked by ``attachments.check_files(images_only=True)``."""
    if not can_see(actor, case):
        raise NotFound()
    require(actor, NOTE, case)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed({"note": ["此项为必填项"]})
    if len(text) > NOTE_MAX:
        raise ValidationFailed({"note": [f"不能超过 {NOTE_MAX} 个字符"]})
    if any(not p.is_image for p in photos):
        raise ValidationFailed({"photos": ["进展记录只能附照片"]})
    changed = ["note"] + (["attachments"] if photos else [])
    event = timeline.log(case, "note", actor=actor, note=text, changed=changed)
    if photos:
        attach(case, list(photos), actor=actor, purpose="photo", event=event)
    return event


@dataclass(frozen=True)
class NoteView:
    event: CaseEvent
    author: str
    photos: list[Attachment]


def notes_of(case: Case) -> list[NoteView]:
    """The case's notes, newest first, with their authors and photos (three queries, whatever the count)."""
    events = list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                             CaseEvent.action == "note")
                                     .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())))
    if not events:
        return []
    ids = [e.id for e in events]
    photos: dict[int, list[Attachment]] = {}
    for row in db.session.scalars(select(Attachment).where(Attachment.event_id.in_(ids)).order_by(Attachment.id)):
        photos.setdefault(row.event_id, []).append(row)
    user_ids = {e.actor_user_id for e in events if e.actor_user_id}
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    return [NoteView(e, names.get(e.actor_user_id, "系统"), photos.get(e.id, [])) for e in events]
