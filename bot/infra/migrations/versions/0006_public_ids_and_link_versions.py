"""links name a random public id and a link version; SQLite ids are never reused

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

people.public_id (128 random bits) and people.link_version replace the integer id in view
links (issue 15, finding 4). Existing people get theirs here, before the columns become NOT
NULL; links given out before this revision stop working (they named the id), and "2" in chat
gives a new one.

On SQLite every table is rebuilt with AUTOINCREMENT (otherwise the id of the newest row, once
deleted, goes to the next one). The rebuild copies each table; env.py keeps foreign keys off
meanwhile and checks them after. The audit log's append-only triggers go with its table and are
made again.
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _integer_id_tables(bind) -> list[str]:
    inspector = sa.inspect(bind)
    tables = []
    for name in inspector.get_table_names():
        pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        if pk == ["id"] and isinstance(columns["id"]["type"], sa.Integer):
            tables.append(name)
    return sorted(tables)


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for name in _integer_id_tables(bind):
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    for verb in ("UPDATE", "DELETE"):  # as 0001 made them; they went with the old table
        op.execute(f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")


def upgrade():
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('link_version', sa.Integer(), nullable=True))
    bind = op.get_bind()
    people = sa.table('people', sa.column('id', sa.Integer), sa.column('public_id', sa.String),
                      sa.column('link_version', sa.Integer))
    ids = [row.id for row in bind.execute(sa.select(people.c.id))]
    for start in range(0, len(ids), 1000):
        bind.execute(people.update().where(people.c.id == sa.bindparam('pid')).values(
            public_id=sa.bindparam('new_id'), link_version=1),
            [{'pid': pid, 'new_id': secrets.token_urlsafe(16)} for pid in ids[start:start + 1000]])
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('link_version', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_people_public_id', ['public_id'])
    _rebuild(autoincrement=True)


def downgrade():
    _rebuild(autoincrement=False)
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_constraint('uq_people_public_id', type_='unique')
        batch_op.drop_column('link_version')
        batch_op.drop_column('public_id')
