"""clean stored free text: control characters (other than tab, newline, carriage return), lone surrogates and
U+FFFE/U+FFFF that reached the case tables before the request edge refused them, so the .xlsx export and every
page read them

Revision ID: 0010clean
Revises: 0009accounts
Create Date: 2026-12-02 13:00:00

Portable: rows are read by id in batches and cleaned in Python (SQLite has no regular expressions, and the
character classes differ between engines), and only the rows that change are written. PostgreSQL text cannot
hold NUL anyway; the other characters it can. The encrypted columns (*_enc) are not touched: the export cleans
what it decrypts.
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0010clean'
down_revision = '0009accounts'
branch_labels = None
depends_on = None

#: The same set as core.security.BAD_TEXT (kept here: a migration never imports the application).
DIRTY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
COLUMNS = {
    "cases": ("summary", "demands", "category", "xinfang_no", "hotline_ticket", "court_case_no"),
    "case_parties": ("name",),
    "case_events": ("note",),
    "case_documents": ("title", "body", "organ_name", "doc_no"),
    "case_service_records": ("recipient", "reference"),
    "case_assignments": ("task", "result"),
    "case_mediation_sessions": ("place", "mediators", "participants", "notes", "agreement", "guidance"),
    "case_extensions": ("reason",),
    "case_supervisions": ("note",),
    "case_evaluations": ("note",),
    "case_follow_ups": ("notes",),
    "case_reviews": ("notes", "external_organ", "external_reference"),
}
BATCH = 5000


def clean_table(conn, table: str, columns: tuple[str, ...]) -> int:
    """Remove DIRTY characters from ``columns`` of ``table``; the number of rows changed."""
    cols = ", ".join(columns)
    select = sa.text(f"SELECT id, {cols} FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}")
    changed = 0
    last = 0
    while True:  # by id in batches: a district's 300,000 cases never sit in memory at once
        rows = conn.execute(select, {"last": last}).fetchall()
        if not rows:
            return changed
        for row in rows:
            values = dict(zip(columns, row[1:], strict=True))
            clean = {c: DIRTY.sub("", v) for c, v in values.items() if isinstance(v, str) and DIRTY.search(v)}
            if clean:
                sets = ", ".join(f"{c} = :{c}" for c in clean)
                conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :id"), {**clean, "id": row[0]})
                changed += 1
        last = rows[-1][0]


def upgrade():
    conn = op.get_bind()
    for table, columns in COLUMNS.items():
        clean_table(conn, table, columns)


def downgrade():
    pass  # the removed characters were never meant to be stored; there is nothing to put back
