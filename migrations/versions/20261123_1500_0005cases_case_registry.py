"""case registry

Revision ID: 0005cases
Revises: 0004calendar
Create Date: 2026-11-23 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import core.db  # noqa: F401 - custom column types (UTCDateTime)

# revision identifiers, used by Alembic.
revision = '0005cases'
down_revision = '0004calendar'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_counters',
    sa.Column('district_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.CheckConstraint('last >= 0', name=op.f('ck_case_counters_last_not_negative')),
    sa.ForeignKeyConstraint(['district_id'], ['org_units.id'], name=op.f('fk_case_counters_district_id_org_units')),
    sa.PrimaryKeyConstraint('district_id', 'year', name=op.f('pk_case_counters'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32).with_variant(sa.String(length=32, collation='C'), 'postgresql'), nullable=False),
    sa.Column('kind', sa.Enum('dispute', 'petition', name='case_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('petition_class', sa.Enum('suggestion', 'accusation', 'appeal', name='petition_class', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.Enum('visit', 'letter', 'online', 'phone', 'video', 'grid_report', 'grid_agent', 'screening', 'reception', 'hotline', name='case_channel', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('demands', sa.Text(), nullable=True),
    sa.Column('people_count', sa.Integer(), nullable=False),
    sa.Column('risk_colour', sa.Enum('red', 'orange', 'yellow', 'blue', name='risk_colour', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status', sa.Enum('registered', 'accepted', 'not_accepted', 'handed_down', 'escalated', 'in_progress', 'mediating', 'answered', 'closed', 'evaluated', 'reopened', 'guided_to_legal', 'terminated', name='case_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('received_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('origin_unit_id', sa.Integer(), nullable=False),
    sa.Column('handling_unit_id', sa.Integer(), nullable=False),
    sa.Column('assignee_user_id', sa.Integer(), nullable=True),
    sa.Column('owner_leader_user_id', sa.Integer(), nullable=True),
    sa.Column('accused_unit_id', sa.Integer(), nullable=True),
    sa.Column('filed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('repeat_of_case_id', sa.Integer(), nullable=True),
    sa.Column('xinfang_no', sa.String(length=64), nullable=True),
    sa.Column('hotline_ticket', sa.String(length=64), nullable=True),
    sa.Column('court_case_no', sa.String(length=64), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'petition') = (petition_class IS NOT NULL)", name=op.f('ck_cases_petition_class_iff_petition')),
    sa.CheckConstraint('people_count >= 1', name=op.f('ck_cases_people_count_positive')),
    sa.ForeignKeyConstraint(['accused_unit_id'], ['org_units.id'], name=op.f('fk_cases_accused_unit_id_org_units')),
    sa.ForeignKeyConstraint(['assignee_user_id'], ['users.id'], name=op.f('fk_cases_assignee_user_id_users')),
    sa.ForeignKeyConstraint(['filed_by_user_id'], ['users.id'], name=op.f('fk_cases_filed_by_user_id_users')),
    sa.ForeignKeyConstraint(['handling_unit_id'], ['org_units.id'], name=op.f('fk_cases_handling_unit_id_org_units')),
    sa.ForeignKeyConstraint(['origin_unit_id'], ['org_units.id'], name=op.f('fk_cases_origin_unit_id_org_units')),
    sa.ForeignKeyConstraint(['owner_leader_user_id'], ['users.id'], name=op.f('fk_cases_owner_leader_user_id_users')),
    sa.ForeignKeyConstraint(['repeat_of_case_id'], ['cases.id'], name=op.f('fk_cases_repeat_of_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_accused_unit_id'), ['accused_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_assignee_user_id'), ['assignee_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_filed_by_user_id'), ['filed_by_user_id'], unique=False)
        batch_op.create_index('ix_cases_handling_status', ['handling_unit_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_handling_unit_id'), ['handling_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_origin_unit_id'), ['origin_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_owner_leader_user_id'), ['owner_leader_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_repeat_of_case_id'), ['repeat_of_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)

    op.create_table('case_deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('met_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_days', sa.Integer(), nullable=False),
    sa.Column('provisional', sa.Boolean(), nullable=False),
    sa.Column('supervision_level', sa.Integer(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('due_on >= started_on', name=op.f('ck_case_deadlines_due_after_start')),
    sa.CheckConstraint('paused_days >= 0', name=op.f('ck_case_deadlines_paused_days_not_negative')),
    sa.CheckConstraint('supervision_level BETWEEN 0 AND 3', name=op.f('ck_case_deadlines_supervision_level_range')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_deadlines_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_deadlines'))
    )
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_deadlines_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_deadlines_open_due', ['met_at', 'due_on'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.Enum('registered', 'accepted', 'not_accepted', 'handed_down', 'escalated', 'in_progress', 'mediating', 'answered', 'closed', 'evaluated', 'reopened', 'guided_to_legal', 'terminated', name='case_event_from_status', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('to_status', sa.Enum('registered', 'accepted', 'not_accepted', 'handed_down', 'escalated', 'in_progress', 'mediating', 'answered', 'closed', 'evaluated', 'reopened', 'guided_to_legal', 'terminated', name='case_event_to_status', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('changed_fields', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_case_events_actor_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_actor_user_id'), ['actor_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_parties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('applicant', 'respondent', name='party_role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('kind', sa.Enum('person', 'organisation', name='party_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('id_type', sa.Enum('resident_id', 'residence_permit', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent', 'passport', 'uscc', name='party_id_type', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('id_number_enc', sa.Text(), nullable=True),
    sa.Column('id_index', sa.String(length=64), nullable=True),
    sa.Column('phone_enc', sa.Text(), nullable=True),
    sa.Column('phone_index', sa.String(length=64), nullable=True),
    sa.Column('address_enc', sa.Text(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(id_number_enc IS NULL) = (id_index IS NULL)', name=op.f('ck_case_parties_id_index_with_number')),
    sa.CheckConstraint('(phone_enc IS NULL) = (phone_index IS NULL)', name=op.f('ck_case_parties_phone_index_with_phone')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_parties_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_parties'))
    )
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_parties_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_parties_id_index'), ['id_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_parties_phone_index'), ['phone_index'], unique=False)



def downgrade():
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_parties_phone_index'))
        batch_op.drop_index(batch_op.f('ix_case_parties_id_index'))
        batch_op.drop_index(batch_op.f('ix_case_parties_case_id'))

    op.drop_table('case_parties')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_events_actor_user_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_case_deadlines_open_due')
        batch_op.drop_index(batch_op.f('ix_case_deadlines_case_id'))

    op.drop_table('case_deadlines')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_repeat_of_case_id'))
        batch_op.drop_index(batch_op.f('ix_cases_received_at'))
        batch_op.drop_index(batch_op.f('ix_cases_owner_leader_user_id'))
        batch_op.drop_index(batch_op.f('ix_cases_origin_unit_id'))
        batch_op.drop_index(batch_op.f('ix_cases_handling_unit_id'))
        batch_op.drop_index('ix_cases_handling_status')
        batch_op.drop_index(batch_op.f('ix_cases_filed_by_user_id'))
        batch_op.drop_index(batch_op.f('ix_cases_assignee_user_id'))
        batch_op.drop_index(batch_op.f('ix_cases_accused_unit_id'))

    op.drop_table('cases')
    op.drop_table('case_counters')
