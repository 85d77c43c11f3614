"""国际版: the language a chat account reads (NULL is Chinese), a code's reason and next step in
the other languages (the policy's translated wording, filled at evaluation), a passport holder's
nationality (ISO 3166-1 alpha-3, encrypted like the rest of a person's data)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nationality', sa.String(length=256), nullable=True))  # sealed, as names are
    with op.batch_alter_table('channel_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wording', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.drop_column('wording')
    with op.batch_alter_table('channel_identities', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('nationality')
