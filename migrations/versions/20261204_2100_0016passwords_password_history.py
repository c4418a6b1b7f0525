"""password_history: earlier password hashes a new password may not repeat, and how many the policy compares

Revision ID: 0016passwords
Revises: 0015terms
Create Date: 2026-12-04 21:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)


revision = '0016passwords'
down_revision = '0015terms'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'password_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_history_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_history')),
    )
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_history_user_id'), ['user_id'], unique=False)
    # A plain ADD COLUMN on both engines: the existing policy row gets the default of 5.
    op.add_column('security_policies', sa.Column('password_history', sa.Integer(), server_default='5',
                                                 nullable=False))


def downgrade():
    with op.batch_alter_table('security_policies', schema=None) as batch_op:
        batch_op.drop_column('password_history')
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_history_user_id'))
    op.drop_table('password_history')
