"""bot.infra.db.pipelined: inserts sent without waiting for each answer (PostgreSQL's pipeline
mode), refused for anything whose answer is read, failures raised as SQLAlchemy's exceptions
with nothing of the block kept. Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.models import AuditLog, Declaration, Person
from bot.infra.db import PipelineMisuse, pipelined, utcnow

INSERT_AUDIT = insert(AuditLog).inline()
INSERT_DECLARATION = insert(Declaration).inline()


def _person(services) -> int:
    with services.db.session() as s:
        now = utcnow()
        return s.connection().execute(insert(Person), {"id_type": "id_card", "id_hash": f"h{now.timestamp()}",
                                          "id_number": "330102195001010013", "name": "张三", "registered": True,
                                          "created_at": now, "updated_at": now}).inserted_primary_key[0]


def _declaration(pid: int, key: str) -> dict:
    return dict(person_id=pid, submitted_by_id=pid, channel="wechat", overseas=False, travel_answer=4,
                symptoms=False, case_reported=False, measure_answer=5, submission_key=key, declared_at=utcnow())


def _audit(action: str) -> dict:
    return dict(at=utcnow(), action=action, actor_kind="system", detail={}, request_id=None)


def _count(services, model, *where) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_inline_inserts_land(services):
    pid = _person(services)
    with services.db.session() as s:
        with pipelined(s):
            s.connection().execute(INSERT_DECLARATION, _declaration(pid, "k1"))
            for n in range(3):
                s.connection().execute(INSERT_AUDIT, _audit(f"test.pipelined.{n}"))
    assert _count(services, Declaration, Declaration.person_id == pid) == 1
    assert _count(services, AuditLog, AuditLog.action.like("test.pipelined.%")) == 3


@pytest.mark.parametrize("statement", [
    lambda pid: (select(Person.id), None),  # a read: its rows
    lambda pid: (update(Person).where(Person.id == pid).values(registered=False), None),  # its row count
    lambda pid: (insert(AuditLog), _audit("test.returning")),  # RETURNING the new id
], ids=["select", "update", "insert-returning"])
def test_a_statement_whose_answer_is_read_is_refused(services, statement):
    pid = _person(services)
    stmt, values = statement(pid)
    with pytest.raises(PipelineMisuse):
        with services.db.session() as s:
            with pipelined(s):
                s.connection().execute(INSERT_AUDIT, _audit("test.before-misuse"))
                s.connection().execute(stmt, values)
    # refused before it was sent, and the unit of work rolled back as a whole
    assert _count(services, AuditLog, AuditLog.action.like("test.%")) == 0
    with services.db.session() as s:  # the pool's connection is fine afterwards
        assert s.scalar(select(Person.registered).where(Person.id == pid)) is True


def test_a_failed_insert_raises_integrity_error_and_keeps_nothing(services):
    pid = _person(services)
    with services.db.session() as s:
        s.connection().execute(INSERT_DECLARATION, _declaration(pid, "taken"))
    with pytest.raises(IntegrityError):  # at the end of the block or at a later insert in it
        with services.db.session() as s:
            with pipelined(s):
                s.connection().execute(INSERT_AUDIT, _audit("test.in-failed-block"))
                s.connection().execute(INSERT_DECLARATION, _declaration(pid, "taken"))  # unique key
                s.connection().execute(INSERT_AUDIT, _audit("test.in-failed-block"))
    assert _count(services, AuditLog, AuditLog.action == "test.in-failed-block") == 0
    assert _count(services, Declaration, Declaration.person_id == pid) == 1
    with services.db.session() as s:  # and the next unit of work runs as usual
        with pipelined(s):
            s.connection().execute(INSERT_DECLARATION, _declaration(pid, "next"))
    assert _count(services, Declaration, Declaration.person_id == pid) == 2


def test_on_postgresql_the_block_is_one_pipeline(services):
    if services.db.engine.dialect.driver != "psycopg":
        pytest.skip("pipeline mode is PostgreSQL's (psycopg); elsewhere the block is statement by statement")
    from psycopg.pq import PipelineStatus

    with services.db.session() as s:
        driver = s.connection().connection.driver_connection
        with pipelined(s):
            s.connection().execute(INSERT_AUDIT, _audit("test.pipeline"))
            assert driver.pgconn.pipeline_status == PipelineStatus.ON
        assert driver.pgconn.pipeline_status == PipelineStatus.OFF
    assert _count(services, AuditLog, AuditLog.action == "test.pipeline") == 1


def test_disabled_is_a_plain_block(services):
    with services.db.session() as s:
        with pipelined(s, enabled=False):
            assert s.execute(select(func.count()).select_from(Person)).scalar() >= 0
