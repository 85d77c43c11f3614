"""Benchmarks (`make bench`): each measures its own baseline in the same run where one exists,
prints raw figures, and the runner writes var/bench.json (one key per figure)."""

import os
import shutil
from contextlib import contextmanager


@contextmanager
def workspace(name: str):
    """A fresh var/bench-<name>/ and a Redis URL (REDIS_URL, or an embedded server stopped after)."""
    from bot.infra.redis.embedded import EmbeddedRedis
    from bot.infra.config import ROOT

    var = ROOT / "var" / f"bench-{name}"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    server = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        server = EmbeddedRedis(var)
        server.ensure()
        redis_url = server.url
    try:
        yield var, redis_url
    finally:
        if server:
            server.stop()


def pg_url() -> str | None:
    """BENCH_PG_URL, TEST_DATABASE_URL or the local server, when it answers."""
    url = os.environ.get("BENCH_PG_URL") or os.environ.get("TEST_DATABASE_URL") or \
        "postgresql://postgres@127.0.0.1:5432/test"
    try:
        import psycopg

        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
        return url
    except Exception:
        return None


@contextmanager
def pg_schema(url: str):
    """A schema of its own on that server (dropped after): the URL that puts it on the search path."""
    import uuid

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
