"""等保三级 tamper evidence and retention of the audit log: audit_seals (the SM3 hash chain, written by the sealer
only), audit_checkpoints (the signed last link of each archive), audit_verifications, audit_retention_lock (SQLite's
marker that lets the retention job's deletes through); the append-only triggers now let deletes of audit rows and
seals through inside the retention job's transaction only (core.audit.chain_models)

Revision ID: 0018auditchain
Revises: 0017security
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)

UTCDateTime = core.db.UTCDateTime

revision = '0018auditchain'
down_revision = '0017security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_retention_lock',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_retention_lock')),
    )
    op.create_table(
        'audit_seals',
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('sealed_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['audit_entries.id'], name=op.f('fk_audit_seals_entry_id_audit_entries')),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_seals')),
        sa.UniqueConstraint('entry_id', name=op.f('uq_audit_seals_entry_id')),
    )
    op.create_table(
        'audit_checkpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('first_seq', sa.BigInteger(), nullable=False),
        sa.Column('last_seq', sa.BigInteger(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('archive', sa.String(length=200), nullable=False),
        sa.Column('signature', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
        sa.UniqueConstraint('last_seq', name=op.f('uq_audit_checkpoints_last_seq')),
    )
    op.create_table(
        'audit_verifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('checked', sa.Integer(), nullable=False),
        sa.Column('from_seq', sa.BigInteger(), nullable=False),
        sa.Column('head_seq', sa.BigInteger(), nullable=True),
        sa.Column('head_hash', sa.String(length=64), nullable=True),
        sa.Column('unsealed', sa.Integer(), nullable=False),
        sa.Column('problem', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verifications')),
    )
    op.create_index(op.f('ix_audit_verifications_at'), 'audit_verifications', ['at'])
    from core.audit.chain_models import PG_CHAIN_DDL, SQLITE_CHAIN_DDL

    for stmt in PG_CHAIN_DDL if op.get_bind().dialect.name == 'postgresql' else SQLITE_CHAIN_DDL:
        op.execute(stmt)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for trigger, table in (('audit_seals_no_change', 'audit_seals'), ('audit_seals_no_truncate', 'audit_seals'),
                               ('audit_checkpoints_no_change', 'audit_checkpoints'),
                               ('audit_checkpoints_no_truncate', 'audit_checkpoints')):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_always()")
        # 0001kernel's function: every update and delete refused.
        op.execute("CREATE OR REPLACE FUNCTION audit_entries_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END $$")
    else:
        for trigger in ('audit_seals_no_update', 'audit_seals_no_delete', 'audit_checkpoints_no_update',
                        'audit_checkpoints_no_delete', 'audit_entries_no_delete'):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
                   "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END")
    op.drop_index(op.f('ix_audit_verifications_at'), table_name='audit_verifications')
    op.drop_table('audit_verifications')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_seals')
    op.drop_table('audit_retention_lock')
