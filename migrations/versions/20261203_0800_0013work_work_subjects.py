"""work_subjects: one row per subject of work; cases, case_events and case_deadlines reference it

Revision ID: 0013work
Revises: 0012clock
Create Date: 2026-12-03 08:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)


revision = '0013work'

down_revision = '0012clock'
branch_labels = None
depends_on = None

BOUND = ('case_events', 'case_deadlines')


def upgrade():
    op.create_table(
        'work_subjects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_work_subjects')),
    )
    # One subject per existing case, numbered as the case (the table is new, so every id is free); the
    # sequence then continues after the last one.
    op.execute("INSERT INTO work_subjects (id, kind, created_at) SELECT id, 'case', created_at FROM cases")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval(pg_get_serial_sequence('work_subjects', 'id'), "
                   "COALESCE((SELECT max(id) FROM work_subjects), 0) + 1, false)")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
    op.execute("UPDATE cases SET subject_id = id")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('subject_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_cases_subject_id'), ['subject_id'])
        batch_op.create_foreign_key(batch_op.f('fk_cases_subject_id_work_subjects'), 'work_subjects',
                                    ['subject_id'], ['id'])
    for table in BOUND:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET subject_id = case_id")  # noqa: S608 - a constant table name
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('subject_id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_index(batch_op.f(f'ix_{table}_subject_id'), ['subject_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_subject_id_work_subjects'), 'work_subjects',
                                        ['subject_id'], ['id'])


def downgrade():
    for table in BOUND:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_subject_id_work_subjects'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_subject_id'))
            batch_op.drop_column('subject_id')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_subject_id_work_subjects'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_cases_subject_id'), type_='unique')
        batch_op.drop_column('subject_id')
    op.drop_table('work_subjects')
