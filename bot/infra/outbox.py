"""The transactional outbox: effects (render, push, re-evaluate) as rows, run once by RQ workers.

- add() writes a row in the caller's transaction; nothing reaches Redis before the commit.
- After the commit, the rows just written are enqueued at once (the fast path).
- sweep() is the safety net: rows whose enqueue was lost, whose job died with its worker, or
  whose retry is due are claimed again with a compare-and-set on `attempts`, and enqueued.
- workers.outbox.run() executes a row: it moves queued -> running under the same fence, runs
  the effect in a transaction and marks the row done in that same transaction, so a run that
  was superseded (its attempt is no longer the row's) commits nothing. Each attempt has its own
  RQ job id (outbox-<id>-<attempt>), so enqueueing twice cannot double a run.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import JSON, Index, Integer, String, Text, event, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.infra.after_commit import on_commit
from bot.infra.db import Base, UTCDateTime, utcnow
from bot.infra.retry import OUTBOX as RETRY

log = logging.getLogger(__name__)

JOB_FUNC = "workers.outbox.run"


def _now_col():
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Outbox(Base):
    """An effect to run once, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(128), unique=True)  # idempotency key
    queue: Mapped[str] = mapped_column(String(16), default="default")
    # pending -> queued -> running -> done, or back to pending (retry) / failed (given up)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # also the fencing token of a run
    available_at: Mapped[dt.datetime] = _now_col()
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _now_col()
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EffectLedger(Base):
    """Idempotency keys of effects already applied (external calls record theirs here)."""

    __tablename__ = "effect_ledger"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = _now_col()


def job_id(outbox_id: int, attempt: int) -> str:
    return f"outbox-{outbox_id}-{attempt}"


def add(session: Session, kind: str, payload: dict | None = None, *, key: str | None = None,
        queue: str = "default", delay: dt.timedelta | None = None) -> Outbox:
    """Record an effect in the caller's transaction. `key` makes it unique (idempotency)."""
    now = utcnow()
    lease = session.info.get("outbox_lease", 30)
    row = Outbox(kind=kind, payload=payload or {}, key=key, queue=queue, created_at=now)
    if delay:
        row.status, row.attempts, row.available_at = "pending", 0, now + delay
    else:
        # Claimed for its first attempt already: the after-commit hook enqueues it, and if that
        # enqueue is lost the sweep finds the lease expired and the job absent.
        row.status, row.attempts, row.available_at = "queued", 1, now
        row.lease_until = now + dt.timedelta(seconds=lease)
    session.add(row)
    return row


def install(services) -> None:
    """Hook the fast path into every session of this Database: rows flushed as queued are
    enqueued once the transaction commits (bot.infra.after_commit)."""
    maker = services.db.sessionmaker
    maker.kw.setdefault("info", {})["outbox_lease"] = services.settings.outbox_lease

    @event.listens_for(maker, "after_flush")
    def _collect(session, _ctx):
        new = [(o.id, o.attempts, o.queue) for o in session.new if isinstance(o, Outbox) and o.status == "queued"]
        if new:
            on_commit(session, "outbox", enqueue, new, combine=list.__add__)


def enqueue(services, rows: list[tuple[int, int, str]]) -> None:
    """Put (id, attempt, queue) rows on their RQ queues, a pipeline per queue."""
    from rq import Queue

    by_queue: dict[str, list] = {}
    for outbox_id, attempt, queue in rows:
        by_queue.setdefault(queue, []).append(
            Queue.prepare_data(JOB_FUNC, args=(outbox_id, attempt), job_id=job_id(outbox_id, attempt),
                               timeout=services.settings.outbox_job_timeout, result_ttl=600, failure_ttl=7 * 86400,
                               description=f"outbox {outbox_id} attempt {attempt}"))
    for name, data in by_queue.items():
        services.queue(name).enqueue_many(data)


def _job_alive(services, outbox_id: int, attempt: int) -> bool:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id(outbox_id, attempt), connection=services.redis.client())
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED,
                                             JobStatus.STARTED)


def sweep(services, limit: int = 2000) -> int:
    """Claim and enqueue due rows: pending ones whose time came, and queued/running ones whose
    lease ran out with no live job behind them. Safe to run concurrently and repeatedly."""
    now = utcnow()
    lease = dt.timedelta(seconds=services.settings.outbox_lease)
    claimed: list[tuple[int, int, str]] = []
    with services.db.session() as s:
        due = s.execute(
            select(Outbox.id, Outbox.status, Outbox.attempts, Outbox.queue)
            .where(or_(
                (Outbox.status == "pending") & (Outbox.available_at <= now),
                Outbox.status.in_(("queued", "running")) & (Outbox.lease_until < now),
            ))
            .order_by(Outbox.id).limit(limit)
        ).all()
        for outbox_id, status, attempts, queue in due:
            fence = (Outbox.id == outbox_id) & (Outbox.attempts == attempts) & (Outbox.status == status)
            if status == "queued" and _job_alive(services, outbox_id, attempts):
                # Waiting behind other jobs: not lost. Extend, do not duplicate.
                s.execute(update(Outbox).where(fence).values(lease_until=now + lease))
                continue
            if RETRY.exhausted(attempts):
                s.execute(update(Outbox).where(fence).values(
                    status="failed", last_error=f"gave up after {attempts} attempts (last run lost)"))
                continue
            done = s.execute(update(Outbox).where(fence).values(
                status="queued", attempts=attempts + 1, lease_until=now + lease)).rowcount
            if done == 1:
                claimed.append((outbox_id, attempts + 1, queue))
    if claimed:
        enqueue(services, claimed)
        log.info("outbox sweep enqueued %d rows", len(claimed))
    return len(claimed)


def counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
