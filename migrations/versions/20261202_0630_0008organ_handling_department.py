"""cases.handling_department_id: a department as the handling organ (转送/交办 to the competent organ)

Revision ID: 0008organ
Revises: 0007wxbind
Create Date: 2026-12-02 06:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008organ'
down_revision = '0007wxbind'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handling_department_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_handling_department_id'), ['handling_department_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cases_handling_department_id_departments'), 'departments',
                                    ['handling_department_id'], ['id'])


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_handling_department_id_departments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_handling_department_id'))
        batch_op.drop_column('handling_department_id')
