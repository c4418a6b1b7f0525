"""三权分立: memberships proposed then activated, service accounts, scoped and ending API tokens, dual-control
requests between administrators, binding codes that die after wrong proofs

Revision ID: 0009accounts
Revises: 0008organ
Create Date: 2026-12-02 07:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)


revision = '0009accounts'
down_revision = '0008organ'
branch_labels = None
depends_on = None

ROLES = ('system_admin', 'security_admin', 'auditor', 'district_leader', 'center_staff', 'department_head',
         'department_liaison', 'township_leader', 'township_staff', 'village_head', 'village_cadre', 'grid_worker')
STATUSES = ('proposed', 'active', 'refused', 'ended')


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade():
    # users.kind. On SQLite a batch would copy the users table, which every other table references (DROP TABLE
    # fails on a populated database with foreign keys on); SQLite's own ADD COLUMN takes the CHECK inline.
    if _sqlite():
        op.execute("ALTER TABLE users ADD COLUMN kind VARCHAR(24) DEFAULT 'person' NOT NULL "
                   "CONSTRAINT ck_users_account_kind CHECK (kind IN ('person', 'service'))")
    else:
        op.add_column('users', sa.Column('kind', _enum(('person', 'service'), 'account_kind'),
                                         server_default='person', nullable=False))

    # memberships: a status replaces is_active. Existing memberships were granted before the separation and stay
    # in force ('active'); an ended one is 'ended'.
    with op.batch_alter_table('memberships', schema=None, recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.add_column(sa.Column('status', _enum(STATUSES, 'membership_status'), server_default='proposed',
                                      nullable=False))
        batch_op.add_column(sa.Column('proposed_by_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_by_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decision_note', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_memberships_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_memberships_proposed_by_user_id_users'), 'users',
                                    ['proposed_by_user_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_memberships_decided_by_user_id_users'), 'users',
                                    ['decided_by_user_id'], ['id'])
    op.execute("UPDATE memberships SET status = CASE WHEN is_active THEN 'active' ELSE 'ended' END")
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('is_active')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('scope_actions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('scope_unit_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_scope_unit_id_org_units'), 'org_units',
                                    ['scope_unit_id'], ['id'])

    with op.batch_alter_table('notify_binding_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof_failures', sa.Integer(), server_default='0', nullable=False))

    op.create_table('admin_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', _enum(('reset_password', 'disable', 'enable', 'end_membership', 'bind_device', 'unlock'),
                            'admin_act_kind'), nullable=False),
    sa.Column('status', _enum(('pending', 'approved', 'executed', 'rejected', 'cancelled'), 'admin_request_status'),
              nullable=False),
    sa.Column('target_user_id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
    sa.Column('requester_role', _enum(ROLES, 'admin_request_requester_role'), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=True),
    sa.Column('executed_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'],
                            name=op.f('fk_admin_requests_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'],
                            name=op.f('fk_admin_requests_membership_id_memberships')),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'],
                            name=op.f('fk_admin_requests_requested_by_user_id_users')),
    sa.ForeignKeyConstraint(['target_user_id'], ['users.id'], name=op.f('fk_admin_requests_target_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_requests'))
    )
    with op.batch_alter_table('admin_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_requests_target_user_id'), ['target_user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('admin_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_requests_target_user_id'))
        batch_op.drop_index(batch_op.f('ix_admin_requests_status'))
    op.drop_table('admin_requests')

    with op.batch_alter_table('notify_binding_codes', schema=None) as batch_op:
        batch_op.drop_column('proof_failures')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_scope_unit_id_org_units'), type_='foreignkey')
        batch_op.drop_column('scope_unit_id')
        batch_op.drop_column('scope_actions')
        batch_op.drop_column('revoked_reason')

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_active', sa.Boolean(), server_default='1', nullable=False))
    # A proposed or refused membership was never in force: it goes back as inactive.
    op.execute("UPDATE memberships SET is_active = (status = 'active')")
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_memberships_decided_by_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_memberships_proposed_by_user_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_memberships_status'))
        # SQLite's copy would keep the named CHECK of a dropped column
        batch_op.drop_constraint(batch_op.f('ck_memberships_membership_status'), type_='check')
        batch_op.drop_column('decision_note')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by_user_id')
        batch_op.drop_column('proposed_by_user_id')
        batch_op.drop_column('status')

    if _sqlite():
        op.execute("ALTER TABLE users DROP COLUMN kind")
    else:
        op.drop_column('users', 'kind')
