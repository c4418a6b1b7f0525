"""case_deadlines: kind (duty/window), the responsible unit or department, held_since, continues_id, ended_by;
case_documents.kind gains 受理告知书 (acceptance)

Revision ID: 0012clock
Revises: 0011search
Create Date: 2026-12-02 13:20:00

"""
from alembic import op
import sqlalchemy as sa

import core.db  # noqa: F401 - custom column types (UTCDateTime)


revision = '0012clock'

down_revision = '0011search'
branch_labels = None
depends_on = None

DOC_KINDS_OLD = ('answer', 'not_accepted', 'extension', 'review_opinion', 'supervision', 'agreement')
DOC_KINDS_NEW = DOC_KINDS_OLD[:2] + ('acceptance',) + DOC_KINDS_OLD[2:]


def _kinds(values) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('duty', 'window', name='deadline_kind', native_enum=False,
                                                      create_constraint=True, length=24),
                                      server_default='duty', nullable=False))
        batch_op.add_column(sa.Column('responsible_unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('responsible_department_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('held_since', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('continues_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ended_by', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_deadlines_responsible_unit_id'), ['responsible_unit_id'])
        batch_op.create_index(batch_op.f('ix_case_deadlines_responsible_department_id'),
                              ['responsible_department_id'])
        batch_op.create_foreign_key(batch_op.f('fk_case_deadlines_responsible_unit_id_org_units'), 'org_units',
                                    ['responsible_unit_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_case_deadlines_responsible_department_id_departments'),
                                    'departments', ['responsible_department_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_case_deadlines_continues_id_case_deadlines'), 'case_deadlines',
                                    ['continues_id'], ['id'])
    # Rows from before: held by the case's handling organ now (the best the data knows).
    op.execute("UPDATE case_deadlines SET responsible_unit_id = (SELECT handling_unit_id FROM cases "
               "WHERE cases.id = case_deadlines.case_id), responsible_department_id = (SELECT "
               "handling_department_id FROM cases WHERE cases.id = case_deadlines.case_id)")
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_case_documents_document_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_case_documents_document_kind'), _kinds(DOC_KINDS_NEW))


def downgrade():
    op.execute("DELETE FROM case_documents WHERE kind = 'acceptance'")
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_case_documents_document_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_case_documents_document_kind'), _kinds(DOC_KINDS_OLD))
    op.execute("DELETE FROM case_deadlines WHERE kind = 'window'")
    op.execute("UPDATE case_deadlines SET continues_id = NULL")
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_deadlines_continues_id_case_deadlines'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_case_deadlines_responsible_department_id_departments'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_case_deadlines_responsible_unit_id_org_units'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_deadlines_responsible_department_id'))
        batch_op.drop_index(batch_op.f('ix_case_deadlines_responsible_unit_id'))
        batch_op.drop_constraint(batch_op.f('ck_case_deadlines_deadline_kind'), type_='check')
        batch_op.drop_column('ended_by')
        batch_op.drop_column('continues_id')
        batch_op.drop_column('held_since')
        batch_op.drop_column('responsible_department_id')
        batch_op.drop_column('responsible_unit_id')
        batch_op.drop_column('kind')
