"""Removing personal data (seed 003: 疫情结束后按规定销毁).

- older_than(days): records past the retention period. Declarations, test results, travel and
  measures that are over, scans, decided appeals with their evidence, verified arrival reports,
  delivered or undeliverable notices, code history, and passes, all older than the cut-off.
  Current codes and the facts that still decide them stay.
- everything(): every person and all that hangs on them (the database cascades). Also the
  conversation states, image cache, SMS codes and delivery marks in Redis. Today's counts by
  colour are kept in daily_colour_counts first, so the anonymous history remains.

The audit log stays: it is append-only by design (the database refuses deletes), its details
are masked, and it records the purge itself. Work goes in batches, each committed, so a purge of
millions of rows neither holds one huge transaction nor loses its progress if stopped.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import delete, func, select

from bot.domain import audit
from bot.domain.codes import snapshot_colour_counts
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import (Appeal, ArrivalReport, CaseStatus, ChannelIdentity, CodeHistory, Declaration, EffectLedger,
                        LimitedPass, Measure, Notice, Outbox, Person, Scan, TestResult, TravelFact)
from bot.domain.vocab import AppealStatus

BATCH = 5000
REDIS_PATTERNS = ("chat:*", "code:img:*", "sms:*", "notices:sent:*", "dev:sms")

Progress = Callable[[str, int], None]


def _slug(label: str) -> str:
    return label.split(" (")[0].replace(" ", "_")


def _batched_delete(db, model, where, progress: Progress, label: str) -> int:
    """Delete matching rows BATCH at a time, by id; returns how many."""
    total = 0
    key = model.__table__.primary_key.columns.values()[0]
    while True:
        with db.session() as s:
            ids = list(s.scalars(select(key).where(where).limit(BATCH)))
            if not ids:
                return total
            s.execute(delete(model).where(key.in_(ids)))
        total += len(ids)
        progress(label, len(ids))


def plan_older_than(days: int, now: dt.datetime | None = None) -> list[tuple[str, type, object]]:
    cut = (now or utcnow()) - dt.timedelta(days=days)
    day = cut.astimezone(SHANGHAI).date()
    return [
        ("declarations", Declaration, Declaration.declared_at < cut),
        ("test results", TestResult, TestResult.sampled_at < cut),
        ("travel", TravelFact, TravelFact.arrival < day),
        ("measures (over)", Measure, Measure.ended_on.is_not(None) & (Measure.ended_on < day)),
        ("case statuses (released)", CaseStatus, CaseStatus.released_on.is_not(None) & (CaseStatus.released_on < day)),
        ("scans", Scan, Scan.at < cut),
        ("appeals (decided)", Appeal, (Appeal.status == AppealStatus.DECIDED) & (Appeal.decided_at < cut)),
        ("arrival reports (verified)", ArrivalReport, (ArrivalReport.status == "verified") & (ArrivalReport.verified_at < cut)),
        ("notices", Notice, Notice.status.in_(("delivered", "undeliverable")) & (Notice.created_at < cut)),
        ("code history", CodeHistory, CodeHistory.created_at < cut),
        ("limited passes", LimitedPass, LimitedPass.ends_at < cut),
        ("finished effects", Outbox, Outbox.status.in_(("done", "failed")) & (Outbox.created_at < cut)),
    ]


def count(db, plan) -> dict[str, int]:
    with db.session() as s:
        return {label: s.scalar(select(func.count()).select_from(model).where(where)) or 0
                for label, model, where in plan}


def older_than(services, days: int, progress: Progress = lambda label, n: None) -> dict[str, int]:
    if days < 1:
        raise ValueError("days must be at least 1")
    done = {label: _batched_delete(services.db, model, where, progress, label)
            for label, model, where in plan_older_than(days)}
    with services.db.session() as s:
        audit.record(s, "purge.older_than", actor_kind="system", days=days, **{_slug(k): v for k, v in done.items()})
    return done


def everything(services, progress: Progress = lambda label, n: None) -> dict[str, int]:
    with services.db.session() as s:
        snapshot_colour_counts(s)
    done = {}
    # rows that refer to people without cascading, then the people (the rest cascades)
    done["notices"] = _batched_delete(services.db, Notice, Notice.id.is_not(None), progress, "notices")
    done["scans"] = _batched_delete(services.db, Scan, Scan.id.is_not(None), progress, "scans")
    done["chat accounts"] = _batched_delete(services.db, ChannelIdentity, ChannelIdentity.id.is_not(None), progress,
                                            "chat accounts")
    done["effects"] = _batched_delete(services.db, Outbox, Outbox.id.is_not(None), progress, "effects")
    done["effect ledger"] = _batched_delete(services.db, EffectLedger, EffectLedger.key.is_not(None), progress,
                                            "effect ledger")
    done["people"] = _batched_delete(services.db, Person, Person.id.is_not(None), progress, "people")
    redis = services.redis.client()
    removed = 0
    for pattern in REDIS_PATTERNS:
        keys = list(redis.scan_iter(match=pattern, count=1000))
        for i in range(0, len(keys), 1000):
            removed += redis.delete(*keys[i:i + 1000])
    progress("redis keys", removed)
    done["redis keys"] = removed
    with services.db.session() as s:
        audit.record(s, "purge.all_personal_data", actor_kind="system",
                     **{_slug(k): v for k, v in done.items()})
    return done
