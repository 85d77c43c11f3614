"""appeal evidence: each image's fetch status and the reason it failed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Images already kept count as fetched; those without data as pending (their job may still run).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appeal_evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('fetch_error', sa.String(length=256), nullable=True))
    op.execute("UPDATE appeal_evidence SET status = CASE WHEN data IS NULL THEN 'pending' ELSE 'fetched' END")
    with op.batch_alter_table('appeal_evidence', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16), nullable=False)


def downgrade():
    with op.batch_alter_table('appeal_evidence', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('fetch_error')
        batch_op.drop_column('status')
