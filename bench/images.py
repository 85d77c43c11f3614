"""Code images: uncached renders per second of CPU (one core), each QR holding a claim signed
with Ed25519 (issue 17), a cached repeat view against an uncached render (same call, same run),
the PNG size and the QR version."""
from __future__ import annotations

import os
import secrets
import statistics
import sys
import time

from bench import workspace
from bot.infra.images.code_image import CodeView
from bot.services import Services
from bot.infra.tokens import SCAN_PERIOD

RENDERS = 600
COLOURS = ("green", "yellow", "red")


def run():
    with workspace("images") as (var, redis_url):
        env = {**os.environ, "VAR_DIR": str(var), "REDIS_URL": redis_url, "APP_ENV": "test", "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{var / 'bench.db'}"}
        env.pop("TEST_DATABASE_URL", None)
        svc = Services.from_env(env)
        from bot.infra import migrate

        migrate.upgrade(svc)  # the signing keys live in the database
        images = svc.code_images
        views = [CodeView(100_000 + i, 1 + i % 7, COLOURS[i % 3], "张*" if i % 2 else "欧阳**", tail=f"{i % 10000:04d}",
                          public_id=secrets.token_urlsafe(16)) for i in range(RENDERS)]
        period = int(time.time() // SCAN_PERIOD)
        signer = images.signer()  # the signing key (made on first use)
        images.render(views[0], period, signer)  # fonts and code paths warm
        from bot.infra.images import code_image, qr

        version = qr.make(code_image.scan_url(svc.settings, views[0], period, signer)).version

        cpu, wall = time.process_time(), time.perf_counter()
        sizes = [len(images.render(v, period + i, images.signer())) for i, v in enumerate(views)]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        per_s_core = RENDERS / cpu

        # the cache: the first view of each code renders and stores, the repeats come from Redis
        # (`shared`: another process's first view, served by Redis)
        from bot.infra.images.code_image import CodeImages

        other = CodeImages(svc.settings, svc.redis.client(), signer=images.signer)
        now = time.time()
        uncached, cached, shared = [], [], []
        for v in views[:200]:
            for calls, images_ in ((uncached, images), (cached, images), (shared, other)):
                t = time.perf_counter()
                images_.png(v, now)
                calls.append(time.perf_counter() - t)
        speedup = statistics.median(uncached) / statistics.median(cached)
        shared_speedup = statistics.median(uncached) / statistics.median(shared)
        svc.close()
    png_kb = max(sizes) / 1024
    print(f"images: {RENDERS} renders in {cpu:.2f} s CPU ({wall:.2f} s wall) = {per_s_core:.0f}/s per core; "
          f"PNG {statistics.mean(sizes) / 1024:.1f} KB mean, {png_kb:.1f} KB max; view {statistics.median(uncached) * 1e3:.2f} "
          f"ms uncached, {statistics.median(cached) * 1e3:.3f} ms cached in process, "
          f"{statistics.median(shared) * 1e3:.3f} ms from Redis; signed QR version {version} (M)", file=sys.stderr)
    return [
        ("images_per_s_core", round(per_s_core), ">= 150", per_s_core >= 150),
        ("image_cache_speedup", round(speedup, 1), ">= 20", speedup >= 20),
        ("image_cache_speedup_redis", round(shared_speedup, 1), None, None),
        ("png_kb", round(png_kb, 1), "<= 16", png_kb <= 16),
        ("qr_version", version, "<= 10", version <= 10),
    ]
