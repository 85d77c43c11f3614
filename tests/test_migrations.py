import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from bot.infra import migrate
from bot.infra.db import utcnow
from bot.domain.models import AuditLog, Base
from bot.services import Services
from tests.conftest import base_env


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path, redis_url):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL not set (CI runs this against PostgreSQL)")
    import psycopg

    plain = base.replace("postgresql+psycopg://", "postgresql://")
    schema = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_upgrade_from_empty_matches_models_and_downgrades(empty_db, tmp_path, redis_url):
    svc = Services.from_env(base_env(tmp_path, empty_db, redis_url))
    assert migrate.current_revision(svc) is None
    migrate.upgrade(svc)
    assert migrate.current_revision(svc) == migrate.head_revision(svc)
    with svc.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff  # the migrations build exactly the models' schema
    assert set(Base.metadata.tables) <= set(inspect(svc.db.engine).get_table_names())

    migrate.upgrade(svc)  # running it again is harmless
    migrate.downgrade(svc, "base")
    assert set(inspect(svc.db.engine).get_table_names()) <= {"alembic_version"}
    svc.db.dispose()


def test_audit_log_is_append_only_in_the_database(services):
    with services.db.session() as s:
        s.add(AuditLog(action="people.lookup", actor_kind="staff", actor_id=1, detail={"id": "330***"}, at=utcnow()))
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"):
            with services.db.session() as s:
                s.execute(text(statement))
    with services.db.session() as s:
        assert s.execute(text("SELECT action FROM audit_log")).scalar_one() == "people.lookup"


def test_0006_keeps_every_row_and_gives_people_public_ids(empty_db, tmp_path, redis_url):
    """The SQLite rebuild (AUTOINCREMENT) copies and drops each table: with foreign keys on, the
    drop of `people` would have deleted what hangs on it. Existing people get public ids."""
    svc = Services.from_env(base_env(tmp_path, empty_db, redis_url))
    migrate.upgrade(svc, "0005")
    now = utcnow().replace(tzinfo=None)
    with svc.db.engine.begin() as conn:
        for pid in (1, 2):
            conn.execute(text("INSERT INTO people (id, id_type, id_hash, id_number, name, registered, created_at, "
                              "updated_at) VALUES (:id, 'id_card', :h, 'x', 'y', true, :now, :now)"),
                         {"id": pid, "h": f"h{pid}", "now": now})
        conn.execute(text("INSERT INTO channel_identities (channel, app_id, external_id, person_id, subscribed, "
                          "push_consents, created_at) VALUES ('wechat', '', 'o1', 1, true, '{}', :now)"), {"now": now})
    migrate.upgrade(svc)
    with svc.db.engine.begin() as conn:
        assert conn.execute(text("SELECT person_id FROM channel_identities")).scalar_one() == 1
        rows = conn.execute(text("SELECT public_id, link_version FROM people ORDER BY id")).all()
    assert len(rows) == 2 and all(len(r.public_id) == 22 and r.link_version == 1 for r in rows)
    assert rows[0].public_id != rows[1].public_id
    svc.db.dispose()


def test_sqlite_never_reuses_an_id(services):
    """Issue 15, finding 4: SQLite gave a deleted newest row's id to the next row, so a link or
    token naming it named somebody else."""
    if services.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL sequences never reuse an id")
    with services.db.engine.begin() as conn:
        ddl = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
        own_ids = [t for t in inspect(conn).get_table_names()
                   if inspect(conn).get_pk_constraint(t)["constrained_columns"] == ["id"]]
        assert len(own_ids) >= 20 and [t for t in own_ids if "AUTOINCREMENT" not in ddl[t]] == []
        now = utcnow().replace(tzinfo=None)
        insert = text("INSERT INTO people (id_type, id_hash, public_id, link_version, id_number, name, registered, "
                      "created_at, updated_at) VALUES ('id_card', :h, :h, 1, 'x', 'y', true, :now, :now)")
        first = conn.execute(insert, {"h": "a", "now": now}).lastrowid
        conn.execute(text("DELETE FROM people WHERE id = :id"), {"id": first})
        assert conn.execute(insert, {"h": "b", "now": now}).lastrowid > first


def test_migrations_from_0012_only_add():
    """README, Deploying: the code of the release before keeps serving while a migration runs,
    so from 0012 on an upgrade only adds. No table or column is dropped or renamed, and a
    column added NOT NULL carries a server default."""
    import ast
    import re
    from pathlib import Path

    versions = Path(migrate.__file__).parent / "migrations" / "versions"
    checked = 0
    for path in sorted(versions.glob("*.py")):
        number = re.match(r"(\d{4})_", path.name)
        if not number or int(number.group(1)) < 12:
            continue
        tree = ast.parse(path.read_text())
        upgrade = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "upgrade")
        for call in (n for n in ast.walk(upgrade) if isinstance(n, ast.Call)):
            name = getattr(call.func, "attr", "")
            assert name not in ("drop_column", "drop_table", "rename_table", "drop_constraint"), (path.name, name)
            if name == "alter_column":
                assert not any(k.arg in ("new_column_name", "type_") for k in call.keywords), path.name
                assert not any(k.arg == "nullable" and getattr(k.value, "value", None) is False
                               for k in call.keywords), path.name
            if name == "Column":
                keywords = {k.arg: k.value for k in call.keywords}
                if getattr(keywords.get("nullable"), "value", True) is False:
                    assert "server_default" in keywords, (path.name, ast.unparse(call))
        checked += 1
    assert checked >= 1
