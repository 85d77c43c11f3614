"""declaration answers and submission key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overseas_arrival', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('case_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('submission_key', sa.String(length=160), nullable=True))
        batch_op.create_index(batch_op.f('ix_declarations_submission_key'), ['submission_key'], unique=True)



def downgrade():
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declarations_submission_key'))
        batch_op.drop_column('submission_key')
        batch_op.drop_column('case_status')
        batch_op.drop_column('overseas_arrival')

