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
