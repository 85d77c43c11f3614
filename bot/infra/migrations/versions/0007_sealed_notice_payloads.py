"""notice payloads sealed with the PII key (their texts carry code page links)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

The column becomes text: new rows are sealed by the model's SealedJSON; rows already there stay
readable plain JSON until delivered and purged (notices are short-lived).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # a SQLite rebuild keeps AUTOINCREMENT only when told (reflection does not see it)
    with op.batch_alter_table('notices', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.JSON(), type_=sa.Text(), postgresql_using='payload::text')


def downgrade():
    # sealed rows cannot become JSON again without the key: they are dropped (undelivered pushes lost)
    op.execute("DELETE FROM notices WHERE payload NOT LIKE '{%'")
    with op.batch_alter_table('notices', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.Text(), type_=sa.JSON(), postgresql_using='payload::json')
