"""Time turns codes: one RQ-scheduled job re-evaluates the codes whose reevaluate_at has come,
then schedules itself for the next such moment (at most an hour away, as a safety net)."""
from __future__ import annotations

import datetime as dt
import time

TICK_KEY = "healthcode:reevaluate:next"
JOB = "workers.codes.reevaluate_due"
MAX_GAP = dt.timedelta(hours=1)
GRACE = 300  # a tick this far in the past is still coming (workers are busy), not lost


def schedule(services, at: dt.datetime) -> bool:
    """Make sure a tick runs at or before `at`; returns True if one was scheduled now."""
    redis = services.redis.client()
    ts = at.timestamp()
    current = redis.get(TICK_KEY)
    if current is not None and time.time() - GRACE < float(current) <= ts:
        return False
    services.queue("default").enqueue_at(at, JOB, job_id=f"reevaluate-due-{int(ts)}", result_ttl=600,
                                         description="re-evaluate codes whose time has come")
    redis.set(TICK_KEY, ts)
    return True


def clear(services) -> None:
    services.redis.client().delete(TICK_KEY)
