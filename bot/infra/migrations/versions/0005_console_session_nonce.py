"""console sessions: a server-side nonce per staff member (signing out ends every session)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Nullable: a staff member without one has no console session yet; the first sign-in sets it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_nonce', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('session_nonce')
