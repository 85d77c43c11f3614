"""Re-evaluating many people at once: time ticks (codes due at reevaluate_at) and mass runs
(risk-area table or policy changed).

A batch reads the codes and the facts of up to a few thousand people in a handful of set
queries, evaluates in memory and writes only what changed, with its history rows and one
outbox row for the notices, all in one transaction: a batch that dies leaves nothing behind
and runs again whole. A mass run is a ReevaluationRun row planned into chunks, each chunk an
outbox row, so workers share them, a crash resumes where it stopped, and no notice doubles.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from bot.infra import outbox
from bot.domain.codes import Change, facts_for, queue_notices, risk_table
from bot.infra.db import utcnow
from bot.domain.models import Code, CodeHistory, ReevaluationRun, TravelFact
from bot.domain.rules.policy import Policy

CHUNK = 5000
TRAVEL_LOOKBACK_DAYS = 60  # no rule reads an arrival older than this


def _code_update(**extra):
    t = Code.__table__
    values = {c: bindparam(c) for c in ("colour", "rule", "reason", "next_step", "wording", "version", "policy",
                                        "evaluated_at", "reevaluate_at", "green_at", *extra)}
    return t.update().where(t.c.person_id == bindparam("b_pid"), t.c.version == bindparam("b_version")).values(values)


UPDATE_COLOUR = _code_update(since=None)
UPDATE_SAME_COLOUR = _code_update()


def reevaluate_batch(session: Session, policy: Policy, selector, *, cause: str, now: dt.datetime | None = None,
                     areas=None) -> tuple[int, list[Change]]:
    """Re-evaluate the people with codes in `selector` (a list of ids or an inclusive id range)."""
    now = now or utcnow()
    if isinstance(selector, tuple):
        where = Code.person_id.between(*selector)
    else:
        where = Code.person_id.in_(selector)
    rows = session.execute(select(Code.person_id, Code.colour, Code.rule, Code.reason, Code.next_step, Code.version,
                                  Code.reevaluate_at, Code.green_at, Code.wording).where(where).with_for_update()).all()
    if not rows:
        return 0, []
    facts = facts_for(session, selector, areas if areas is not None else risk_table(session))
    colour_rows, rule_rows, quiet_rows, history, changes = [], [], [], [], []
    for pid, colour, rule, reason, next_step, version, reevaluate_at, green_at, wording in rows:
        d = policy.evaluate(facts.get(pid, {}), now)
        base = dict(b_pid=pid, b_version=version, colour=d.colour, rule=d.rule, reason=d.reason,
                    next_step=d.next_step, wording=d.wording, policy=policy.name, evaluated_at=now, reevaluate_at=d.reevaluate_at,
                    green_at=d.green_at)
        if (d.colour, d.rule) != (colour, rule):
            base["version"] = version + 1
            history.append(dict(person_id=pid, version=version + 1, old_colour=colour, new_colour=d.colour,
                                rule=d.rule, reason=d.reason, cause=cause, created_at=now))
            if d.colour != colour:
                colour_rows.append({**base, "since": now})
                changes.append(Change(pid, colour, d.colour, version + 1, d.rule))
            else:
                rule_rows.append(base)
        elif (d.reason, d.next_step, d.reevaluate_at, d.green_at, d.wording) != \
                (reason, next_step, reevaluate_at, green_at, wording):  # wording: codes from before 国际版 get it
            quiet_rows.append({**base, "version": version})
    conn = session.connection()
    for statement, params in ((UPDATE_COLOUR, colour_rows), (UPDATE_SAME_COLOUR, rule_rows + quiet_rows)):
        if params:
            conn.execute(statement, params)
    if history:
        conn.execute(CodeHistory.__table__.insert(), history)
    queue_notices(session, changes)
    if changes:
        from bot.infra.metrics import COLOUR_CHANGES

        for c in changes:
            COLOUR_CHANGES.labels(c.old_colour, c.new_colour).inc()
    return len(rows), changes


# -- mass runs ----------------------------------------------------------------------------------

def start_run(session: Session, cause: str, policy: str, area_codes: list[str] | None = None) -> ReevaluationRun:
    """Record a run and its planning effect in the caller's transaction (e.g. with the new table)."""
    run = ReevaluationRun(cause=cause, policy=policy, status="planning")
    session.add(run)
    session.flush()
    outbox.add(session, "reeval.plan", {"run_id": run.id, "area_codes": area_codes}, key=f"reeval.plan:{run.id}")
    return run


def plan_run(session: Session, run: ReevaluationRun, area_codes: list[str] | None, now: dt.datetime) -> int:
    """Split a run into chunk effects: id ranges over everyone (policy change), or the ids of
    people who travelled from the changed areas' cities recently (risk-area change)."""
    chunks = []
    if area_codes is None:
        lo, hi, total = session.execute(select(func.min(Code.person_id), func.max(Code.person_id),
                                               func.count())).one()
        if total:
            step = max(CHUNK, (hi - lo + 1) * CHUNK // total)  # ~CHUNK people per range
            chunks = [{"range": [start, min(start + step - 1, hi)]} for start in range(lo, hi + 1, step)]
    else:
        ids = affected_people(session, area_codes, now)
        total = len(ids)
        chunks = [{"ids": ids[i:i + CHUNK]} for i in range(0, len(ids), CHUNK)]
    for index, chunk in enumerate(chunks):
        outbox.add(session, "reeval.chunk", {"run_id": run.id, "cause": run.cause, **chunk}, key=f"reeval.chunk:{run.id}:{index}",
                   queue="low")
    session.execute(update(ReevaluationRun).where(ReevaluationRun.id == run.id).values(
        total=total, status="running" if chunks else "done", cursor=len(chunks),
        finished_at=None if chunks else now))
    return len(chunks)


def affected_people(session: Session, area_codes: list[str], now: dt.datetime) -> list[int]:
    """Who a change of these areas can affect: people who came from their cities (a city's
    people can change class) within the look-back. Also the console's preview of an upload."""
    since = (now - dt.timedelta(days=TRAVEL_LOOKBACK_DAYS)).date()
    prefixes = sorted({code[:4] for code in area_codes if code})
    if not prefixes:
        return []
    cond = None
    for p in prefixes:
        c = TravelFact.origin_code.like(f"{p}%")
        cond = c if cond is None else cond | c
    return sorted(set(session.scalars(select(TravelFact.person_id).where(cond, TravelFact.arrival >= since,
                                                                         TravelFact.overseas.is_(False)))))


def finish_chunk(session: Session, run_id: int, processed: int, changed: int, now: dt.datetime) -> None:
    """Count a chunk in (atomically, in the chunk's own transaction); the last one closes the run."""
    t = ReevaluationRun.__table__
    session.execute(t.update().where(t.c.id == run_id).values(
        processed=t.c.processed + processed, changed=t.c.changed + changed, cursor=t.c.cursor - 1))
    session.execute(t.update().where(t.c.id == run_id, t.c.cursor <= 0, t.c.status == "running")
                    .values(status="done", finished_at=now))
