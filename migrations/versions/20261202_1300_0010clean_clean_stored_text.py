"""clean stored free text: control characters (other than tab, newline, carriage return) and lone surrogates
that reached the case tables before the request edge refused them, so the .xlsx export and every page read them

Revision ID: 0010clean
Revises: 0009accounts
Create Date: 2026-12-02 13:00:00

"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0010clean'
down_revision = '0009accounts'
branch_labels = None
depends_on = None

#: What openpyxl and XML refuse, and what PostgreSQL text cannot hold (NUL): the edge now refuses the same set.
DIRTY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
COLUMNS = {
    "cases": ("summary", "demands"),
    "case_parties": ("name",),
    "case_events": ("note",),
    "case_documents": ("title", "body"),
    "case_assignments": ("task", "result"),
    "case_mediation_sessions": ("participants", "notes", "agreement", "guidance"),
    "case_extensions": ("reason",),
    "case_supervisions": ("note",),
    "case_evaluations": ("note",),
    "case_follow_ups": ("notes",),
    "case_reviews": ("notes",),
}
BATCH = 5000


def upgrade():
    conn = op.get_bind()
    for table, columns in COLUMNS.items():
        cols = ", ".join(columns)
        last = 0
        while True:  # by id in batches: a district's 300,000 cases never sit in memory at once
            rows = conn.execute(sa.text(f"SELECT id, {cols} FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}"),
                                {"last": last}).fetchall()
            if not rows:
                break
            for row in rows:
                values = dict(zip(columns, row[1:], strict=True))
                clean = {c: DIRTY.sub("", v) for c, v in values.items() if isinstance(v, str) and DIRTY.search(v)}
                if clean:
                    sets = ", ".join(f"{c} = :{c}" for c in clean)
                    conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :id"), {**clean, "id": row[0]})
            last = rows[-1][0]


def downgrade():
    pass  # the removed characters were never meant to be stored; there is nothing to put back
