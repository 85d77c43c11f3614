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
