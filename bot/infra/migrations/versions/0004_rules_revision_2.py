"""rules revision 2: when facts were recorded, voided facts, positive-test alerts, green_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Old code keeps working while this runs: every new column is nullable or filled here before it
becomes NOT NULL, and no column the old code reads changes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

VOIDABLE = ('declarations', 'case_statuses', 'measures', 'test_results', 'travel_facts', 'person_flags')
RECORDED = ('case_statuses', 'measures', 'travel_facts')  # the others have declared_at / created_at / set_at


def upgrade():
    for table in VOIDABLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('voided_at', sa.DateTime(), nullable=True))
            batch_op.add_column(sa.Column('voided_by_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('void_reason', sa.String(length=2048), nullable=True))
            batch_op.create_foreign_key(f'fk_{table}_voided_by_id_staff', 'staff', ['voided_by_id'], ['id'],
                                        ondelete='SET NULL')
    for table in RECORDED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('recorded_at', sa.DateTime(), nullable=True))
        op.execute(f"UPDATE {table} SET recorded_at = created_at")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('recorded_at', existing_type=sa.DateTime(), nullable=False)
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('green_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('arrival_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('travel_fact_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_arrival_reports_travel_fact_id', 'travel_facts', ['travel_fact_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('test_result_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('district', sa.String(length=12), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('resolution', sa.String(length=32), nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['staff.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['test_result_id'], ['test_results.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('test_result_id'),
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_district'), ['district'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_status'), ['status'], unique=False)


def downgrade():
    op.drop_table('alerts')
    with op.batch_alter_table('arrival_reports', schema=None) as batch_op:
        batch_op.drop_constraint('fk_arrival_reports_travel_fact_id', type_='foreignkey')
        batch_op.drop_column('travel_fact_id')
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.drop_column('green_at')
    for table in RECORDED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('recorded_at')
    for table in VOIDABLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_voided_by_id_staff', type_='foreignkey')
            batch_op.drop_column('void_reason')
            batch_op.drop_column('voided_by_id')
            batch_op.drop_column('voided_at')
