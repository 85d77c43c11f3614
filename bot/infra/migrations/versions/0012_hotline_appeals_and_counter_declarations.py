"""12345 appeals (their source, the operator, the caller's sealed callback phone, when the
decision SMS went) and declarations made at a counter (the clerk)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appeals', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='chat', nullable=False))
        batch_op.add_column(sa.Column('filed_by_staff_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('callback_phone', sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column('callback_sent_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key('fk_appeals_filed_by_staff_id_staff', 'staff', ['filed_by_staff_id'], ['id'],
                                    ondelete='SET NULL')
    with op.batch_alter_table('declarations', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('staff_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_declarations_staff_id_staff', 'staff', ['staff_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('declarations', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_constraint('fk_declarations_staff_id_staff', type_='foreignkey')
        batch_op.drop_column('staff_id')
    with op.batch_alter_table('appeals', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_constraint('fk_appeals_filed_by_staff_id_staff', type_='foreignkey')
        batch_op.drop_column('callback_sent_at')
        batch_op.drop_column('callback_phone')
        batch_op.drop_column('filed_by_staff_id')
        batch_op.drop_column('source')
