"""The RQ worker class: `rq worker --with-scheduler -w workers.worker.OutboxWorker high default low`.

A SimpleWorker (no fork per job: the database pool and effect modules stay warm; quality.md:
~140 vs ~45 jobs/s) that also runs the outbox sweep in a background thread, one sweep per
interval across all workers (a Redis lock).
"""
from __future__ import annotations

import logging
import os
import threading

from rq.worker import SimpleWorker

from bot.infra import outbox, ticks
from bot.infra.db import utcnow
from bot.infra.process import die_with_parent
from bot.domain import notices
from workers import runtime

log = logging.getLogger(__name__)
SWEEP_LOCK = "healthcode:outbox:sweep"


def sweep_loop(svc, stop: threading.Event) -> None:
    interval = svc.settings.outbox_sweep_interval
    while not stop.wait(interval):
        try:
            redis = svc.redis.client()
            if redis.set(SWEEP_LOCK, "1", nx=True, px=int(interval * 1000 * 0.9)):
                outbox.sweep(svc)
                with svc.db.session() as s:
                    due = notices.due_count(s)
                if due:
                    notices.nudge(svc)
                if not redis.exists(ticks.TICK_KEY):  # first start, or Redis lost its schedule
                    ticks.schedule(svc, utcnow())
        except Exception as exc:  # database or Redis away: try again next interval
            log.warning("outbox sweep failed: %s", exc)


class OutboxWorker(SimpleWorker):
    def work(self, *args, **kwargs):
        # RQ forks its scheduler; if this worker is killed outright the scheduler goes too.
        os.register_at_fork(after_in_child=die_with_parent)
        svc = runtime.services()
        stop = threading.Event()
        thread = threading.Thread(target=sweep_loop, args=(svc, stop), name="outbox-sweep", daemon=True)
        thread.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            stop.set()
