"""One row per subject of work (a case; later a screening report, a ledger item, a booking, a patrol stop, a
key person): the subject's table references it (``SubjectMixin.subject_id``, unique), and the rows that belong
to a subject's record — its events, its deadlines — reference it too (``BoundToSubject``). Foreign keys, not
untyped (type, id) pairs: a deadline can never point at a subject that does not exist, whatever its kind.

The rows are made by the session, not by the features: a new subject gets its ``WorkSubject`` when it is
flushed, and a bound row takes its owner's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, event
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow


class WorkSubject(Base):
    __tablename__ = "work_subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what the subject is ("case" …): the subject table's ``__subject_kind__``
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<WorkSubject {self.id} {self.kind}>"


class SubjectMixin:
    """A subject of work: one ``work_subjects`` row of its own (made at its first flush)."""

    __subject_kind__: str

    @declared_attr
    def subject_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("work_subjects.id"), unique=True)

    @declared_attr
    def subject(cls) -> Mapped[WorkSubject]:
        return relationship(WorkSubject)


class BoundToSubject:
    """A row of a subject's record (an event, a deadline): it references the subject's ``work_subjects`` row,
    taken from its owner (the relationship named ``__subject_owner__``) at flush."""

    __subject_owner__: str

    @declared_attr
    def subject_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("work_subjects.id"), index=True)

    @declared_attr
    def subject(cls) -> Mapped[WorkSubject]:
        return relationship(WorkSubject)


@event.listens_for(Session, "before_flush")
def _give_subjects(session: Session, _context, _instances) -> None:
    new = list(session.new)
    for obj in new:
        if isinstance(obj, SubjectMixin) and obj.subject is None and obj.subject_id is None:
            obj.subject = WorkSubject(kind=obj.__subject_kind__)
    for obj in new:
        if isinstance(obj, BoundToSubject) and obj.subject is None and obj.subject_id is None:
            owner = getattr(obj, obj.__subject_owner__)
            if owner is not None:
                obj.subject = owner.subject
