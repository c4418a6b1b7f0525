"""case_searches: searches typed into the case list, kept server-side (encrypted) under a random id, so ID
numbers, phones and names never travel in a URL

Revision ID: 0011search
Revises: 0010clean
Create Date: 2026-12-02 13:10:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)


revision = '0011search'
down_revision = '0010clean'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_searches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_searches_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_searches'))
    )
    with op.batch_alter_table('case_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_searches_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_searches_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_searches_user_id'))
        batch_op.drop_index(batch_op.f('ix_case_searches_created_at'))

    op.drop_table('case_searches')
