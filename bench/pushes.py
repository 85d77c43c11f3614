"""Pushes: 100,000 colour-change notices delivered by 2 worker processes to the platform stub
(quality.md: <= 120 s, none lost, none doubled), and the workers' memory."""
from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from collections import Counter

import psutil
from sqlalchemy import func, insert, select

from bench import workspace
from bot.infra import migrate
from bot.infra.db import utcnow
from bot.domain.models import ChannelIdentity, Code, Notice, Person
from bot.devtools.platform_stub import PlatformStub
from bot.services import Services
from bot.infra.config import ROOT

N = int(os.environ.get("BENCH_PUSHES", "100000"))
WORKERS = 2
APPID = "wxbenchpush00001"


def run():
    with workspace("pushes") as (var, redis_url), PlatformStub() as stub:
        env = {**os.environ, "VAR_DIR": str(var), "REDIS_URL": redis_url, "APP_ENV": "test", "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{var / 'bench.db'}", "WECHAT_TOKEN": "bench", "WECHAT_APPID": APPID,
               "WECHAT_SECRET": "bench-secret", "WECHAT_API_BASE": stub.base_url,
               "SECRET_KEY": secrets.token_urlsafe(32), "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
        env.pop("TEST_DATABASE_URL", None)
        svc = Services.from_env(env)
        migrate.upgrade(svc)
        svc.redis.client().flushdb()
        seeded = time.perf_counter()
        seed(svc, N)
        seeded = time.perf_counter() - seeded

        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env) for _ in range(WORKERS)]
        rss = 0.0
        try:
            from workers.notices import nudge

            nudge(svc)
            while True:
                time.sleep(0.5)
                rss = max(rss, max(psutil.Process(p.pid).memory_info().rss for p in procs) / 2**20)
                with svc.db.session() as s:
                    left = s.scalar(select(func.count()).select_from(Notice)
                                    .where(Notice.status.in_(("pending", "sending"))))
                if not left or time.perf_counter() - started > 600:
                    break
            elapsed = time.perf_counter() - started
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)
        with svc.db.session() as s:
            outcomes = dict(s.execute(select(Notice.status, func.count()).group_by(Notice.status)).all())
        svc.close()
        per_user = Counter(m["touser"] for m in stub.state.messages)
    delivered = outcomes.get("delivered", 0)
    doubled = sum(1 for n in per_user.values() if n > 1)
    lost = N - len(per_user)
    print(f"pushes: {N} notices seeded in {seeded:.1f} s; delivered by {WORKERS} workers in {elapsed:.1f} s "
          f"({N / elapsed:.0f}/s); outcomes {outcomes}; stub received {sum(per_user.values())}, doubled {doubled}, "
          f"missing {lost}", file=sys.stderr)
    ok = delivered == N and doubled == 0 and lost == 0
    return [
        ("pushes_100k_s" if N == 100_000 else f"pushes_{N}_s", round(elapsed, 1), "<= 120" if N == 100_000 else None,
         ok and (elapsed <= 120 or N != 100_000)),
        ("pushes_doubled", doubled, "0", doubled == 0),
        ("pushes_lost", lost, "0", lost == 0),
        ("worker_rss_mb", round(rss, 1), "<= 250", rss <= 250),
    ]


def seed(svc, n: int, chunk: int = 10_000) -> None:
    """n people with a code, a WeChat account inside the 48-hour window, and a pending
    yellow -> green notice each."""
    now = utcnow()
    redis = svc.redis.client()
    for start in range(0, n, chunk):
        ids = range(start + 1, min(start + chunk, n) + 1)
        with svc.db.session() as s:
            s.execute(insert(Person), [dict(id=i, id_type="id_card", id_hash=f"bench-{i}", id_number=f"B{i:017d}",
                                            name="张三", registered=True, created_at=now, updated_at=now) for i in ids])
            s.execute(insert(Code), [dict(person_id=i, colour="green", rule="Z1", reason="无异常", next_step="",
                                          version=2, policy="zhejiang", since=now, evaluated_at=now) for i in ids])
            s.execute(insert(ChannelIdentity), [dict(id=i, channel="wechat", app_id=APPID, external_id=f"o-bench-{i}",
                                                     person_id=i, subscribed=True, push_consents={}, created_at=now)
                                                for i in ids])
            s.execute(insert(Notice), [dict(person_id=i, identity_id=i, kind="code_changed", status="pending",
                                            attempts=0, created_at=now,
                                            payload={"person_id": i, "version": 2, "old": "yellow", "new": "green",
                                                     "rule": "Z1", "reason": "核酸检测阴性", "name_masked": "张*"})
                                       for i in ids])
        pipe = redis.pipeline(transaction=False)
        for i in ids:
            pipe.set(f"chat:last:wechat:{APPID}:o-bench-{i}", "1", ex=3600)
        pipe.execute()
