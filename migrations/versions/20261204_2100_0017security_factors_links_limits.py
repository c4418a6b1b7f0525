"""等保三级: second factors (user_factors, recovery_codes, security_policies.factor_roles), signed single-action
links (action_links), the rate-limit counters (rate_counters), and the lockout counted per account and address
(login_throttles.username widened to hold "name|address-hash")

Revision ID: 0017security
Revises: 0016passwords
Create Date: 2026-12-04 21:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)

UTCDateTime = core.db.UTCDateTime

revision = '0017security'
down_revision = '0016passwords'
branch_labels = None
depends_on = None

ACT_KINDS = ('reset_password', 'disable', 'enable', 'end_membership', 'bind_device', 'unlock')


def _kind_check(kinds, before):
    """The CHECK of admin_requests.kind (a non-native enum) with ``kinds``."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE admin_requests DROP CONSTRAINT ck_admin_requests_admin_act_kind")
        op.execute("ALTER TABLE admin_requests ADD CONSTRAINT ck_admin_requests_admin_act_kind CHECK (kind IN (%s))"
                   % ', '.join(f"'{k}'" for k in kinds))
        return
    # SQLite: the table is rebuilt with the column's new type, whose constraint comes with it.
    with op.batch_alter_table('admin_requests') as batch:
        batch.alter_column('kind', existing_type=_enum(before), type_=_enum(kinds), existing_nullable=False)


def _enum(kinds):
    return sa.Enum(*kinds, name='admin_act_kind', native_enum=False, create_constraint=True, length=24)


def upgrade():
    op.create_table(
        'rate_counters',
        sa.Column('key', sa.String(length=96), nullable=False),
        sa.Column('window', sa.BigInteger(), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('expires', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'window', name=op.f('pk_rate_counters')),
    )
    op.create_index(op.f('ix_rate_counters_expires'), 'rate_counters', ['expires'])
    op.create_table(
        'user_factors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('confirmed_at', UTCDateTime(), nullable=True),
        sa.Column('last_step', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_factors_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_factors')),
        sa.UniqueConstraint('user_id', name=op.f('uq_user_factors_user_id')),
    )
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    )
    op.create_index(op.f('ix_recovery_codes_user_id'), 'recovery_codes', ['user_id'])
    op.create_table(
        'action_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('subject_type', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('once', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_action_links_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_action_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_action_links_token_hash')),
    )
    op.create_index(op.f('ix_action_links_user_id'), 'action_links', ['user_id'])
    with op.batch_alter_table('security_policies') as batch:
        batch.add_column(sa.Column('factor_roles', sa.String(length=400), nullable=True))
    with op.batch_alter_table('login_throttles') as batch:
        batch.alter_column('username', type_=sa.String(length=96), existing_type=sa.String(length=64),
                           existing_nullable=False)
    # The gateway's request id, kept apart from the server's own (core.web.request_id).
    # Plain ALTER TABLE on both engines: a batch rebuild on SQLite would drop the append-only triggers.
    op.add_column('audit_entries', sa.Column('client_request_id', sa.String(length=64), nullable=True))
    # A lost authenticator is reset by dual control (core.accounts.dual_control), a new kind of request.
    _kind_check(ACT_KINDS + ('reset_factor',), ACT_KINDS)
    # Counters keyed by the bare name are from before the per-address lockout: they expire on their own
    # within the lockout time, but a lock they hold would no longer be found — drop them.
    op.execute("DELETE FROM login_throttles")


def downgrade():
    op.execute("ALTER TABLE audit_entries DROP COLUMN client_request_id")  # SQLite ≥ 3.35 and PostgreSQL
    op.execute("DELETE FROM admin_requests WHERE kind = 'reset_factor'")
    _kind_check(ACT_KINDS, ACT_KINDS + ('reset_factor',))
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table('login_throttles') as batch:
        batch.alter_column('username', type_=sa.String(length=64), existing_type=sa.String(length=96),
                           existing_nullable=False)
    with op.batch_alter_table('security_policies') as batch:
        batch.drop_column('factor_roles')
    op.drop_index(op.f('ix_action_links_user_id'), table_name='action_links')
    op.drop_table('action_links')
    op.drop_index(op.f('ix_recovery_codes_user_id'), table_name='recovery_codes')
    op.drop_table('recovery_codes')
    op.drop_table('user_factors')
    op.drop_index(op.f('ix_rate_counters_expires'), table_name='rate_counters')
    op.drop_table('rate_counters')
