"""paper codes (纸质健康码): printed signed QR codes valid PAPER_CODE_DAYS

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('paper_codes',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('person_id', sa.Integer(), nullable=False),
                    sa.Column('issued_by_id', sa.Integer(), nullable=True),
                    sa.Column('colour', sa.String(length=8), nullable=False),
                    sa.Column('code_version', sa.Integer(), nullable=False),
                    sa.Column('issued_at', sa.DateTime(), nullable=False),
                    sa.Column('valid_until', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['issued_by_id'], ['people.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sqlite_autoincrement=True)
    with op.batch_alter_table('paper_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_codes_person_id'), ['person_id'], unique=False)


def downgrade():
    with op.batch_alter_table('paper_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_codes_person_id'))
    op.drop_table('paper_codes')
