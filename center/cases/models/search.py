"""A search typed into the case list, kept server-side (issue #10): ID numbers, phones and names typed into
the search box must never appear in a URL, a browser history or an access log. The form posts the text, it is
stored here encrypted (core.crypto) under a random id, and the result pages carry only that id (``?s=``).

A search belongs to the user who made it (anyone else's id is "not found") and lives ``SEARCH_TTL``; expired
rows are purged whenever a new search is saved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow

__all__ = ["SEARCH_ID_LENGTH", "SEARCH_TTL", "CaseSearch", "CaseTerms"]

#: How long a result page can be reopened (paged, re-filtered, exported) from its search id.
SEARCH_TTL = timedelta(hours=12)
#: secrets.token_urlsafe(24): 32 characters of the URL-safe alphabet.
SEARCH_ID_LENGTH = 32


class CaseSearch(Base):
    __tablename__ = "case_searches"

    id: Mapped[str] = mapped_column(String(SEARCH_ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: {"v": 1, "q": "<ciphertext of the typed text>"} — never a plain value (the exact-match blind indexes
    #: are derived from the text when the search runs, with the key in force then).
    criteria: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<CaseSearch {self.id[:6]}… u{self.user_id}>"


class CaseTerms(Base):
    """The words a case is found by (its summary and its parties' names), cut into the grams the full-text
    index holds (center.cases.listing.terms): ``grams`` the two-character pieces of every Chinese run and the
    Latin/digit words, ``chars`` the single Chinese characters. SQLite indexes them in the FTS5 table
    ``case_terms_fts`` (external content, kept by triggers), PostgreSQL in GIN indexes over
    ``to_tsvector('simple', …)``; both made by migration 0015terms."""

    __tablename__ = "case_terms"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    grams: Mapped[str] = mapped_column(Text, default="")
    chars: Mapped[str] = mapped_column(Text, default="")
