"""The job that runs one outbox row: workers.outbox.run(outbox_id, attempt)."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import update

from bot.infra.db import utcnow
from bot.infra.metrics import OUTBOX_RUNS
from bot.infra.outbox import Outbox
from bot.infra.retry import OUTBOX as RETRY
from workers import runtime
from workers.effects import EFFECTS, EffectContext, PermanentError

log = logging.getLogger(__name__)


def run(outbox_id: int, attempt: int) -> str:
    svc = runtime.services()
    fence = (Outbox.id == outbox_id) & (Outbox.attempts == attempt)
    # RQ kills a job at its timeout; past this lease the run is presumed dead with its worker.
    lease = dt.timedelta(seconds=svc.settings.outbox_job_timeout + svc.settings.outbox_lease)
    with svc.db.sessionmaker() as s:
        started = s.execute(update(Outbox).where(fence & (Outbox.status == "queued"))
                            .values(status="running", lease_until=utcnow() + lease)).rowcount
        s.commit()
        if started != 1:
            OUTBOX_RUNS.labels("unknown", "skipped").inc()
            return "skipped"  # done already, or superseded by a later attempt
        row = s.get(Outbox, outbox_id)
        kind, payload, key = row.kind, dict(row.payload or {}), row.key
        try:
            fn = EFFECTS.get(kind)
            if fn is None:
                raise PermanentError(f"no effect registered for kind {kind!r}")
            fn(EffectContext(svc, s, outbox_id, kind, payload, key, attempt))
            finished = s.execute(update(Outbox).where(fence & (Outbox.status == "running"))
                                 .values(status="done", done_at=utcnow(), lease_until=None, last_error=None)).rowcount
            if finished != 1:
                s.rollback()  # superseded while running: the later attempt owns the effect
                OUTBOX_RUNS.labels(kind, "fenced").inc()
                return "fenced"
            s.commit()
            OUTBOX_RUNS.labels(kind, "done").inc()
            return "done"
        except Exception as exc:
            s.rollback()
            permanent = isinstance(exc, PermanentError) or RETRY.exhausted(attempt)
            values = dict(last_error=f"{type(exc).__name__}: {exc}"[:2000], lease_until=None)
            if permanent:
                values["status"] = "failed"
            else:
                values.update(status="pending", available_at=utcnow() + RETRY.delay(attempt))
            s.execute(update(Outbox).where(fence & (Outbox.status == "running")).values(**values))
            s.commit()
            OUTBOX_RUNS.labels(kind, "failed" if permanent else "retry").inc()
            log.warning("outbox %s attempt %s of %s failed: %s", outbox_id, attempt, kind, exc)
            raise  # RQ's failed registry shows it; the retry is the outbox's (available_at)
