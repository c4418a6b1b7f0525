"""case_terms: the grams a case is found by (summary, parties' names) and the engine's full-text index on them

Revision ID: 0015terms
Revises: 0014reach
Create Date: 2026-12-03 15:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015terms'

down_revision = '0014reach'
branch_labels = None
depends_on = None

SQLITE_FTS = [
    # External content: the FTS table indexes case_terms' rows and stores no copy of them.
    "CREATE VIRTUAL TABLE case_terms_fts USING fts5(grams, chars, content='case_terms', content_rowid='case_id', "
    "tokenize='unicode61')",
    "CREATE TRIGGER case_terms_ai AFTER INSERT ON case_terms BEGIN "
    "INSERT INTO case_terms_fts (rowid, grams, chars) VALUES (new.case_id, new.grams, new.chars); END",
    "CREATE TRIGGER case_terms_ad AFTER DELETE ON case_terms BEGIN "
    "INSERT INTO case_terms_fts (case_terms_fts, rowid, grams, chars) VALUES ('delete', old.case_id, old.grams, "
    "old.chars); END",
    "CREATE TRIGGER case_terms_au AFTER UPDATE ON case_terms BEGIN "
    "INSERT INTO case_terms_fts (case_terms_fts, rowid, grams, chars) VALUES ('delete', old.case_id, old.grams, "
    "old.chars); INSERT INTO case_terms_fts (rowid, grams, chars) VALUES (new.case_id, new.grams, new.chars); END",
]
PG_GIN = [
    "CREATE INDEX ix_case_terms_grams_gin ON case_terms USING gin (string_to_array(grams, ' '))",
    "CREATE INDEX ix_case_terms_chars_gin ON case_terms USING gin (string_to_array(chars, ' '))",
]


def upgrade():
    op.create_table(
        'case_terms',
        sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('grams', sa.Text(), nullable=False),
        sa.Column('chars', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_terms_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_terms')),
    )
    for statement in (SQLITE_FTS if op.get_bind().dialect.name == 'sqlite' else PG_GIN):
        op.execute(statement)
    from center.cases.listing.terms import rebuild

    rebuild(op.get_bind())


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('case_terms_au', 'case_terms_ad', 'case_terms_ai'):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE case_terms_fts")
    op.drop_table('case_terms')
