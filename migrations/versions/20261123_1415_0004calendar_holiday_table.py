"""calendar holiday table

Revision ID: 0004calendar
Revises: 0003notify
Create Date: 2026-11-23 14:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

import core.db  # noqa: F401 - custom column types (UTCDateTime)

# revision identifiers, used by Alembic.
revision = '0004calendar'
down_revision = '0003notify'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.Enum('holiday', 'workday', name='calendar_day_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Enum('chinese-calendar', 'admin', name='calendar_source', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_days')),
    sa.UniqueConstraint('day', name=op.f('uq_calendar_days_day'))
    )
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Enum('chinese-calendar', 'admin', name='calendar_source', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('published_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )


def downgrade():
    op.drop_table('calendar_years')
    op.drop_table('calendar_days')
