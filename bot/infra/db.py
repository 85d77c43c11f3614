"""Engine, sessions and the column types every model shares.

One Database per app (app.extensions["db"]); request code gets its session from
bot.infra.db.session(), which is closed at the end of the request. Workers open their own.
"""
from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager

from sqlalchemy import DateTime, String, Text, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

from bot.infra.pii import Vault

UTC = dt.timezone.utc
SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Encrypted(TypeDecorator):
    """Personal data encrypted with the engine's vault (set by Database); context is the column."""

    impl = String
    cache_ok = True

    def __init__(self, context: str, length: int = 1024):
        super().__init__(length)
        self.context = context

    def process_bind_param(self, value, dialect):
        return None if value is None else dialect.pii_vault.encrypt(value, self.context)

    def process_result_value(self, value, dialect):
        return None if value is None else dialect.pii_vault.decrypt(value, self.context)


class SealedJSON(TypeDecorator):
    """A JSON value sealed with the engine's vault (payloads whose texts hold links or names).
    Rows written before the column was sealed (plain JSON text) are still read."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str):
        super().__init__()
        self.context = context

    def process_bind_param(self, value, dialect):
        return None if value is None else dialect.pii_vault.encrypt(json.dumps(value, ensure_ascii=False), self.context)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value[:1] in ("{", "["):  # written before sealing (migration 0007)
            return json.loads(value)
        return json.loads(dialect.pii_vault.decrypt(value, self.context))


def _sqlite_pragmas(dbapi_connection, _record):
    cur = dbapi_connection.cursor()
    # WAL + NORMAL: ~10x the commits/s of the default journal, still durable across crashes
    # of the process (quality.md's figures); busy_timeout lets web and worker share the file.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, vault: Vault, statement_timeout: int = 0, **kwargs) -> Engine:
    """`statement_timeout` (ms, PostgreSQL): a statement running longer is cancelled, so a stuck
    query cannot hold a connection (and the request or job waiting on it) for ever."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            import pathlib
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # no ping at each checkout (a round trip per unit of work): a connection found dead fails
        # its statement, the pool drops its connections, and the unit of work runs again
        kwargs.setdefault("pool_pre_ping", False)
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
        connect = {"connect_timeout": 3}
        if statement_timeout:  # beside any options the URL carries (they would be replaced, not merged)
            from sqlalchemy.engine import make_url

            given = make_url(url).query.get("options", "")
            given = given if isinstance(given, str) else " ".join(given)
            connect["options"] = f"{given} -c statement_timeout={int(statement_timeout)}".strip()
        engine = create_engine(url, connect_args=connect, **kwargs)
    engine.dialect.pii_vault = vault
    if CHECK_PIPELINES:
        event.listen(engine, "before_cursor_execute", _blind_inserts_only)
    return engine


# The check that pipelined() holds only blind inserts: an engine listener, which costs every
# statement about 7 µs (one on the connection, set up per block, cost 100 µs and more a
# declaration), so it is on in the test suite (tests/conftest.py), where a misuse shows on any
# backend; in production one would fail anyway, less clearly (no rows, no row count).
CHECK_PIPELINES = False


class PipelineMisuse(RuntimeError):
    """A statement whose answer is read, inside pipelined(): its rows or row count are not there."""


def _blind_inserts_only(conn, _cursor, statement, _params, context, _many):
    # inline on every backend (SQLite returns ids without RETURNING): misuse fails in any test
    compiled = context.compiled
    if conn.info.get("pipelined") and not (
            context.isinsert and compiled is not None and compiled.inline and not compiled.effective_returning):
        raise PipelineMisuse(f"only inserts without RETURNING may run in pipelined(): {statement[:60]!r}")


@contextmanager
def pipelined(session, enabled: bool = True):
    """Inserts whose answers nobody reads (`.inline()`: no RETURNING), sent without waiting for
    each: psycopg's pipeline mode on PostgreSQL, one round trip for the lot instead of one each;
    statement by statement elsewhere. Anything else inside raises PipelineMisuse on every backend
    (a read's rows, an update's row count would not be there yet) where CHECK_PIPELINES is on.
    A failed insert raises at the end of the block (or at a later insert in it, when its answer
    is already back), as SQLAlchemy's exception (IntegrityError and so on), like any other."""
    if not enabled:
        yield
        return
    conn = session.connection()
    driver = conn.connection.driver_connection
    conn.info["pipelined"] = True
    try:
        if conn.dialect.driver != "psycopg":
            yield
            return
        import psycopg

        try:
            with driver.pipeline():
                yield
        except psycopg.Error as exc:
            from sqlalchemy.exc import DBAPIError

            raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc
    finally:
        conn.info.pop("pipelined", None)


class Database:
    def __init__(self, url: str, vault: Vault, **engine_kwargs):
        self.url = url
        self.vault = vault
        self.engine = make_engine(url, vault, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self):
        """A unit of work: committed on success, rolled back on error."""
        with self.sessionmaker() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self):
        self.engine.dispose()
