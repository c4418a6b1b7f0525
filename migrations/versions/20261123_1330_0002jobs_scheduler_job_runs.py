"""scheduler job runs

Revision ID: 0002jobs
Revises: 0001kernel
Create Date: 2026-11-23 13:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

import core.db  # noqa: F401 - custom column types (UTCDateTime)

# revision identifiers, used by Alembic.
revision = '0002jobs'
down_revision = '0001kernel'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('fire_time', core.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', core.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', core.db.UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.Enum('running', 'ok', 'failed', name='job_outcome', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('runner', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'fire_time', name=op.f('uq_job_runs_job_fire_time'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_fire_time'), ['fire_time'], unique=False)


def downgrade():
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_fire_time'))

    op.drop_table('job_runs')
