"""首问负责制: arrival reports handed over to another district, with the receiver's contact

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_hand_overs',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('report_id', sa.Integer(), nullable=False),
                    sa.Column('from_staff_id', sa.Integer(), nullable=True),
                    sa.Column('from_district', sa.String(length=12), nullable=True),
                    sa.Column('to_district', sa.String(length=12), nullable=False),
                    sa.Column('receiver_name', sa.String(length=1024), nullable=False),
                    sa.Column('receiver_contact', sa.String(length=1024), nullable=False),
                    sa.Column('note', sa.String(length=2048), nullable=True),
                    sa.Column('at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['from_staff_id'], ['staff.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['report_id'], ['arrival_reports.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sqlite_autoincrement=True)
    with op.batch_alter_table('report_hand_overs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_hand_overs_report_id'), ['report_id'], unique=False)


def downgrade():
    with op.batch_alter_table('report_hand_overs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_hand_overs_report_id'))
    op.drop_table('report_hand_overs')
