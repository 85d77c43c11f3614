"""signing keys for the offline-verifiable QR claims

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signing_keys',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('kid', sa.String(length=16), nullable=False),
                    sa.Column('public_key', sa.String(length=64), nullable=False),
                    sa.Column('private_key', sa.String(length=1024), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.Column('retired_at', sa.DateTime(), nullable=True),
                    sa.Column('verify_until', sa.DateTime(), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('kid'),
                    sqlite_autoincrement=True)


def downgrade():
    op.drop_table('signing_keys')
