"""Finding cases by words, through an index: what the case list's search text matches in summaries and
parties' names.

A Chinese word has no spaces to split on and most search words are two characters (征地, 工资, a surname and
a given name), shorter than a trigram index serves. So each case's text is cut here into overlapping
two-character grams ("排水沟堵塞" → 排水 水沟 沟堵 堵塞) plus its single characters, Latin and digit runs kept
whole; a word of the search is found as the phrase of its grams (adjacent, in order: exactly "contains the
word"), a one-character word by its character, a Latin/digit word as a whole kept word. The grams are
stored in ``case_terms`` and indexed by the engine's own full-text index (SQLite FTS5, PostgreSQL GIN over
tsvector), so a rare word costs a few index pages, not the district.

Rows are kept by ``after_flush`` like the scope table (center.cases.reach): any flush that writes a case's
summary or one of its parties recomputes that case's row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import ARRAY, Text, bindparam, delete, func, insert, literal_column, select, text
from sqlalchemy.orm import Session

from center.cases.models import Case, CaseTerms, Party
from core.db import keep_in_step, touched_keys

#: Between two texts of a case (a phrase never runs from one name into the next). A search word that reads as
#: it is not looked up in the index (it would match every case): it is matched as plain text instead.
BREAK = "zzbreak"
_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[0-9a-z]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _runs(value: str) -> list[str]:
    return _RUN.findall(unicodedata.normalize("NFKC", value or "").lower())


def cut(value: str) -> tuple[list[str], list[str]]:
    """(grams, chars) of a text: the bigrams of each Chinese run (a one-character run stays itself) and each
    Latin/digit run whole; the single Chinese characters."""
    grams: list[str] = []
    chars: list[str] = []
    for run in _runs(value):
        if _CJK.match(run):
            chars.extend(run)
            grams.extend(run[i:i + 2] for i in range(max(1, len(run) - 1)))
        else:
            grams.append(run)
    return grams, chars


def document(summary: str, names: Iterable[str]) -> dict:
    """The ``case_terms`` columns of a case. Texts are separated by a break token so that a phrase never
    runs from one name into the next."""
    grams: list[str] = []
    chars: list[str] = []
    for value in (summary, *names):
        g, c = cut(value)
        grams += [*g, BREAK]
        chars += c
    return {"grams": " ".join(grams), "chars": " ".join(chars)}


# --- upkeep ----------------------------------------------------------------------------------------------------

def refresh(conn, case_ids: Iterable[int]) -> None:
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        summaries = dict(conn.execute(select(Case.id, Case.summary).where(Case.id.in_(chunk))).all())
        names: dict[int, list[str]] = {}
        for case_id, name in conn.execute(select(Party.case_id, Party.name).where(Party.case_id.in_(chunk))
                                          .order_by(Party.case_id, Party.id)):
            names.setdefault(case_id, []).append(name or "")
        conn.execute(delete(CaseTerms).where(CaseTerms.case_id.in_(chunk)))
        rows = [{"case_id": i, **document(summaries[i], names.get(i, []))} for i in chunk if i in summaries]
        if rows:
            conn.execute(insert(CaseTerms), rows)


def rebuild(conn) -> int:
    """Recompute every case's row (after a bulk load). Never commits."""
    ids = list(conn.scalars(select(Case.id).order_by(Case.id)))
    for start in range(0, len(ids), 20000):
        refresh(conn, ids[start:start + 20000])
    return len(ids)


def touched_cases(session: Session) -> set[int]:
    """Cases whose summary or one of whose parties this flush writes."""
    return touched_keys(session, {Case: (("summary",), lambda c: c.id), Party: (("name",), lambda p: p.case_id)})


def install() -> None:
    keep_in_step("case_terms", touched_cases, refresh)


# --- the clause ------------------------------------------------------------------------------------------------

def _tokens(word: str) -> tuple[str, list[str]] | None:
    """(column, tokens) a search word is found by, or None when it has nothing indexable (punctuation)."""
    runs = _runs(word)
    if not runs:
        return None
    if len(runs) == 1 and _CJK.match(runs[0]) and len(runs[0]) == 1:
        return "chars", runs
    grams = cut(word)[0]
    return None if BREAK in grams else ("grams", grams)


def matching_ids(word: str):
    """``SELECT case_id`` of the cases whose summary or a party's name contains ``word``, through the
    full-text index; None when the word has nothing indexable. SQLite matches the grams as a phrase
    (adjacent: exactly "contains"); PostgreSQL as a set of grams all present in one case (GIN containment:
    the grams of one word, so in practice the word). Latin and digit runs match whole."""
    from core.db import is_postgresql

    found = _tokens(word)
    if found is None:
        return None
    column, tokens = found
    if is_postgresql():
        wanted = bindparam(None, tokens, type_=ARRAY(Text()), unique=True)
        return select(CaseTerms.case_id).where(
            func.string_to_array(getattr(CaseTerms, column), " ").op("@>")(wanted))
    phrase = bindparam(None, f'{column} : "{" ".join(tokens)}"', unique=True)
    return select(literal_column("rowid")).select_from(text("case_terms_fts")).where(
        literal_column("case_terms_fts").op("MATCH")(phrase))
