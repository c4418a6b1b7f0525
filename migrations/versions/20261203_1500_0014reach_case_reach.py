"""case_reach: the scope table (one row per way in to a case), and a per-case index of open deadlines

Revision ID: 0014reach
Revises: 0013work
Create Date: 2026-12-03 15:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)


revision = '0014reach'

down_revision = '0013work'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_reach',
        sa.Column('kind', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('ref_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.Column('received_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('case_kind', sa.String(length=24), nullable=False),
        sa.Column('handling_unit_id', sa.Integer(), nullable=False),
        sa.Column('accused_unit_id', sa.Integer(), nullable=True),
        sa.Column('next_due_on', sa.Date(), nullable=True),
        sa.Column('next_started_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_reach_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('kind', 'ref_id', 'case_id', name=op.f('pk_case_reach')),
    )
    op.create_index('ix_case_reach_list', 'case_reach', ['kind', 'ref_id', 'done', 'received_at', 'case_id',
                                                         'accused_unit_id'])
    op.create_index('ix_case_reach_queue', 'case_reach', ['kind', 'ref_id', 'status', 'done', 'next_due_on',
                                                          'next_started_on', 'handling_unit_id',
                                                          'accused_unit_id', 'case_id'])
    op.create_index('ix_case_reach_case', 'case_reach', ['case_id', 'kind', 'ref_id'])
    op.create_index('ix_case_deadlines_case_open', 'case_deadlines', ['case_id', 'met_at', 'due_on'])
    # A department's own cases (转送/交办 to it as the handling organ) oldest first, without a sort.
    op.create_index('ix_cases_department_received', 'cases', ['handling_department_id', 'received_at', 'id'])
    op.drop_index('ix_cases_handling_department_id', table_name='cases')
    # Fill it from the cases there are: the same computation the application keeps it with.
    from center.cases.reach import rebuild

    rebuild(op.get_bind())


def downgrade():
    op.create_index('ix_cases_handling_department_id', 'cases', ['handling_department_id'])
    op.drop_index('ix_cases_department_received', table_name='cases')
    op.drop_index('ix_case_deadlines_case_open', table_name='case_deadlines')
    op.drop_index('ix_case_reach_case', table_name='case_reach')
    op.drop_index('ix_case_reach_queue', table_name='case_reach')
    op.drop_index('ix_case_reach_list', table_name='case_reach')
    op.drop_table('case_reach')
