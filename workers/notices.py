"""Delivering notices (push messages) to chat accounts: workers.notices.drain.

Notice rows are written where their cause is committed (colour changes fan out in
workers.codes, a declaration asks for its code image, a late chat answer is kept). A commit
that wrote notices nudges a drain job. Each drain claims batches of due notices (pending ->
sending, with a claim token and a lease), sends them one by one, and writes the outcomes back
fenced by the claim. While one batch comes back full it nudges another drain, so every worker
helps. The worker's sweep nudges one too when due notices wait (a lost nudge, a back-off that
ran out).

Exactly once, as far as a platform without idempotency keys allows: a send that succeeded is
marked in Redis before anything else happens, and outcomes reach the database every few
sends. A run that dies leaves its notices `sending`. When the lease ends, the next drain
counts the marked ones as delivered and sends the others again. A worker killed while a call
is on the wire is the one window left: if the platform processed that call, the notice
arrives twice. It is never lost.

Every notice ends `delivered` (with the way: custom / template / subscribe / alipay) or
`undeliverable` with the reason. Retries back off; a quota error pauses the batch.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from redis.exceptions import RedisError
from sqlalchemy import case, select, update

from bot.domain.models import ChannelIdentity, Notice, Person
from bot.domain.vocab import NoticeStatus
from bot.domain.notices import QUEUED_FLAG, nudge, pending_due
from bot.infra.db import utcnow
from bot.infra.metrics import PUSHES
from bot.infra.retry import NOTICES as RETRY
from workers import runtime
from workers.sending import Outcome, send

log = logging.getLogger(__name__)

BATCH = 200
BUDGET = 30.0            # seconds a drain works before it hands over to a fresh job
FLUSH_EVERY = 50         # outcomes written to the database this often within a batch
SENT_MARK = "notices:sent:{}"
MARK_TTL = 7 * 86400
WINDOW_KEY = "chat:last:{}:{}:{}"   # written by the conversation store at each inbound message


# -- the job ----------------------------------------------------------------------------------------

def drain() -> dict:
    svc = runtime.services()
    svc.redis.client().delete(QUEUED_FLAG)  # from here on, new notices need a new nudge
    started = time.monotonic()
    totals = {NoticeStatus.DELIVERED: 0, NoticeStatus.UNDELIVERABLE: 0, NoticeStatus.PENDING: 0}
    while True:
        recover_lapsed(svc)
        claim = secrets.token_hex(8)
        batch = claim_batch(svc, claim, BATCH)
        if not batch:
            break
        if len(batch) == BATCH:
            nudge(svc)  # more waiting: let another worker join
        for status, n in deliver_batch(svc, claim, batch).items():
            totals[status] += n
        if time.monotonic() - started > BUDGET:
            nudge(svc)
            break
    return totals


def recover_lapsed(svc) -> int:
    """Notices of a run that died: delivered if marked so, else due again."""
    now = utcnow()
    with svc.db.session() as s:
        rows = s.execute(select(Notice.id, Notice.claim).where(Notice.status == NoticeStatus.SENDING,
                                                                Notice.lease_until < now)
                         .limit(5000)).all()
        if not rows:
            return 0
        redis = svc.redis.client()
        marks = redis.mget([SENT_MARK.format(r.id) for r in rows])
        for (nid, claim), mark in zip(rows, marks):
            fence = (Notice.id == nid) & (Notice.claim == claim) & (Notice.status == NoticeStatus.SENDING)
            if mark:
                s.execute(update(Notice).where(fence).values(status=NoticeStatus.DELIVERED, via=mark.decode(),
                                                             delivered_at=now, claim=None, lease_until=None))
            else:
                s.execute(update(Notice).where(fence).values(status=NoticeStatus.PENDING, claim=None, lease_until=None))
    log.warning("recovered %d notices of a delivery run that stopped", len(rows))
    return len(rows)


def claim_batch(svc, claim: str, limit: int) -> list:
    now = utcnow()
    lease = now + dt.timedelta(seconds=svc.settings.notice_lease)
    with svc.db.session() as s:
        due = select(Notice.id).where(pending_due(now)).order_by(Notice.id).limit(limit)
        if s.bind.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        s.execute(update(Notice).where(Notice.id.in_(due.scalar_subquery()), Notice.status == NoticeStatus.PENDING)
                  .values(status=NoticeStatus.SENDING, claim=claim, lease_until=lease, attempts=Notice.attempts + 1),
                  execution_options={"synchronize_session": False})
        return s.execute(
            select(Notice.id, Notice.kind, Notice.payload, Notice.person_id, Notice.attempts, Notice.identity_id,
                   ChannelIdentity.channel, ChannelIdentity.app_id, ChannelIdentity.external_id,
                   ChannelIdentity.subscribed, ChannelIdentity.push_consents, ChannelIdentity.language,
                   Person.public_id, Person.link_version)
            .outerjoin(ChannelIdentity, ChannelIdentity.id == Notice.identity_id)
            .outerjoin(Person, Person.id == Notice.person_id)  # its code page link
            .where(Notice.claim == claim, Notice.status == NoticeStatus.SENDING).order_by(Notice.id)).all()


def deliver_batch(svc, claim: str, batch: list) -> dict:
    redis = svc.redis.client()
    windows = redis.pipeline(transaction=False)
    for row in batch:
        windows.exists(WINDOW_KEY.format(row.channel, row.app_id, row.external_id))
    in_window = dict(zip((r.id for r in batch), windows.execute()))
    lease_renewed = time.monotonic()
    done: list[tuple[int, Outcome]] = []
    counts = {NoticeStatus.DELIVERED: 0, NoticeStatus.UNDELIVERABLE: 0, NoticeStatus.PENDING: 0}
    paused = None
    for i, row in enumerate(batch):
        if paused is not None:
            done.append((row.id, Outcome(NoticeStatus.PENDING, reason=paused.reason, retry_in=paused.retry_in,
                                         pause=True)))
            counts[NoticeStatus.PENDING] += 1
            continue
        outcome = send(svc, row, bool(in_window[row.id]))
        if outcome.status == NoticeStatus.DELIVERED:  # marked first: sent on the socket, it survives this process
            try:
                svc.fast_redis.send("SET", SENT_MARK.format(row.id), outcome.via, "EX", MARK_TTL)
            except RedisError as exc:  # no mark: the database says it before anything else goes out
                log.warning("delivery marks unavailable (%s): the batch stops here", exc.__class__.__name__)
                rest = batch[i + 1:]
                _write(svc, claim, [*done, (row.id, outcome), *((r.id, Outcome(
                    NoticeStatus.PENDING, reason="Redis unavailable", retry_in=5, pause=True)) for r in rest)])
                counts[NoticeStatus.DELIVERED] += 1
                counts[NoticeStatus.PENDING] += len(rest)
                return counts
        elif outcome.status == NoticeStatus.PENDING and RETRY.exhausted(row.attempts):
            outcome = Outcome(NoticeStatus.UNDELIVERABLE,
                              reason=f"{outcome.reason} (gave up after {row.attempts} attempts)")
        if outcome.pause:
            paused = outcome
        done.append((row.id, outcome))
        counts[outcome.status] += 1
        PUSHES.labels(row.channel or "none", outcome.status).inc()
        if len(done) >= FLUSH_EVERY:
            _write(svc, claim, done)
            done = []
        if time.monotonic() - lease_renewed > svc.settings.notice_lease / 3:
            _renew(svc, claim)
            lease_renewed = time.monotonic()
    _write(svc, claim, done)
    return counts


def _renew(svc, claim: str) -> None:
    with svc.db.session() as s:
        s.execute(update(Notice).where(Notice.claim == claim, Notice.status == NoticeStatus.SENDING).values(
            lease_until=utcnow() + dt.timedelta(seconds=svc.settings.notice_lease)))


def _write(svc, claim: str, done: list[tuple[int, Outcome]]) -> None:
    """Outcomes back to the database, fenced by the claim (a run that lost its lease writes nothing)."""
    if not done:
        return
    now = utcnow()
    fence = (Notice.claim == claim) & (Notice.status == NoticeStatus.SENDING)
    delivered = [(nid, o.via) for nid, o in done if o.status == NoticeStatus.DELIVERED]
    with svc.db.session() as s:
        if delivered:
            vias = {via for _, via in delivered}
            via_value = vias.pop() if len(vias) == 1 else case({nid: via for nid, via in delivered}, value=Notice.id)
            s.execute(update(Notice).where(fence, Notice.id.in_([nid for nid, _ in delivered])).values(
                status=NoticeStatus.DELIVERED, via=via_value, delivered_at=now, claim=None, lease_until=None,
                reason=None),
                execution_options={"synchronize_session": False})
        for nid, o in done:
            if o.status == NoticeStatus.UNDELIVERABLE:
                s.execute(update(Notice).where(fence, Notice.id == nid).values(
                    status=NoticeStatus.UNDELIVERABLE, reason=(o.reason or "")[:2000], via=o.via, claim=None,
                    lease_until=None))
            elif o.status == NoticeStatus.PENDING:
                values = dict(status=NoticeStatus.PENDING, reason=(o.reason or "")[:2000], claim=None, lease_until=None,
                              available_at=now + dt.timedelta(seconds=o.retry_in or 30))
                if o.pause:
                    values["attempts"] = Notice.attempts - 1  # a quota pause is not the notice's failure
                s.execute(update(Notice).where(fence, Notice.id == nid).values(**values))
