"""Outbox throughput: changes committed with an effect row (fast-path enqueue after commit),
then the effects run by 2 worker processes until every row is done."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from sqlalchemy import func, select

from bench import workspace
from bot.infra import migrate, outbox
from bot.domain.models import Outbox
from bot.services import Services
from bot.infra.config import ROOT

N = 3000
WORKERS = 2


def run():
    with workspace("outbox") as (var, redis_url):
        env = {**os.environ, "VAR_DIR": str(var), "REDIS_URL": redis_url, "APP_ENV": "test", "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{var / 'bench.db'}"}
        env.pop("TEST_DATABASE_URL", None)
        svc = Services.from_env(env)
        migrate.upgrade(svc)
        svc.redis.client().flushdb()
        started = time.perf_counter()
        for i in range(N):
            with svc.db.session() as s:
                outbox.add(s, "ledger.record", {"mark": f"bench-{uuid.uuid4().hex}"})
        commit_s = time.perf_counter() - started

        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "workers", "--burst"], cwd=ROOT, env=env)
                 for _ in range(WORKERS)]
        for p in procs:
            p.wait()
        with svc.db.session() as s:
            done = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "done"))
        run_s = time.perf_counter() - started
        svc.close()
    print(f"outbox: {N} commits with an effect in {commit_s:.2f} s; {done}/{N} effects done by "
          f"{WORKERS} workers in {run_s:.2f} s", file=sys.stderr)
    return [
        ("outbox_commits_per_s", round(N / commit_s), None, None),
        ("outbox_effects_per_s", round(done / run_s), None, None),
        ("outbox_effects_lost", N - done, "0", done == N),
    ]
