"""From stored facts to a person's code: assemble facts, evaluate, apply the decision.

apply_decision writes in the caller's transaction: the code (a new version when colour or rule
changes), a history row saying what caused it, and an outbox row for the notice when the
colour changed. A concurrent change to the same code is caught by a compare-and-set on the
version (CodeConflict: redo the unit of work).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from functools import lru_cache

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from bot.domain.vocab import Cause
from bot.infra import outbox, ticks
from bot.infra.after_commit import on_commit
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import (CaseStatus, Code, CodeHistory, Declaration, Designation, Measure, PersonFlag, RiskArea,
                        TestResult, TravelFact)
from bot.domain.rules.policy import Decision, Policy

CAUSES = tuple(Cause)
SEVERITY = {"unknown": -1, "low": 0, "case_city": 1, "risk_county": 2, "medium": 3, "high": 4}


class CodeConflict(Exception):
    """Someone else changed this code meanwhile: evaluate again."""


@dataclass(frozen=True)
class Change:
    person_id: int
    old_colour: str | None
    new_colour: str
    version: int
    rule: str


# -- risk areas ---------------------------------------------------------------------------------

def classify_origin(code: str | None, areas: list[tuple[str, str]]) -> str | None:
    """The origin class of a division code by the risk-area table: inside a high/medium area,
    in the same county (first 6 digits) as one, in the same city (first 4) as one; else None."""
    if not code:
        return None
    best = None
    for area_code, level in areas:
        if level not in ("high", "medium"):
            continue
        if code.startswith(area_code):
            found = level
        elif code[:6] == area_code[:6]:
            found = "risk_county"
        elif code[:4] == area_code[:4]:
            found = "case_city"
        else:
            continue
        if best is None or SEVERITY[found] > SEVERITY[best]:
            best = found
    return best


def more_severe(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if SEVERITY[a] >= SEVERITY[b] else b


def risk_table(session: Session) -> list[tuple[str, str]]:
    return [tuple(r) for r in session.execute(select(RiskArea.code, RiskArea.level)).all()]


# -- facts --------------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _fact_queries(by_range: bool) -> dict:
    """The facts' set queries, built once (SQLAlchemy then only binds values: building and
    caching a statement per call cost more than running it). Bound: ids, or lo and hi.
    Voided facts are never read; each fact comes with when it was recorded."""
    def where(col):
        return col.between(bindparam("lo"), bindparam("hi")) if by_range else col.in_(bindparam("ids", expanding=True))

    latest_decl = select(func.max(Declaration.id)).where(where(Declaration.person_id), Declaration.voided_at.is_(None)) \
        .group_by(Declaration.person_id)
    latest_case = select(func.max(CaseStatus.id)).where(where(CaseStatus.person_id), CaseStatus.voided_at.is_(None)) \
        .group_by(CaseStatus.person_id)
    return {
        "symptoms": select(Declaration.person_id, Declaration.symptoms, Declaration.declared_at)
        .where(Declaration.id.in_(latest_decl)),
        "case": select(CaseStatus.person_id, CaseStatus.status, CaseStatus.since, CaseStatus.released_on,
                       CaseStatus.recorded_at).where(CaseStatus.id.in_(latest_case)),
        "measures": select(Measure.person_id, Measure.kind, Measure.start, Measure.end, Measure.ended_on,
                           Measure.recorded_at).where(where(Measure.person_id), Measure.voided_at.is_(None))
        .order_by(Measure.id),
        "tests": select(TestResult.person_id, TestResult.sampled_at, TestResult.result, TestResult.created_at)
        .where(where(TestResult.person_id), TestResult.voided_at.is_(None)),
        # every trip counts (the rules take the most severe), in arrival order
        "travel": select(TravelFact.person_id, TravelFact.overseas, TravelFact.origin_class, TravelFact.origin_code,
                         TravelFact.arrival, TravelFact.reported_on, TravelFact.recorded_at)
        .where(where(TravelFact.person_id), TravelFact.voided_at.is_(None)).order_by(TravelFact.arrival, TravelFact.id),
        "designation": select(Designation.person_id, Designation.colour, Designation.reason, Designation.until,
                              Designation.created_at)
        .where(where(Designation.person_id), Designation.lifted_at.is_(None)).order_by(Designation.id),
        "fever": select(PersonFlag.person_id, PersonFlag.set_at).where(
            where(PersonFlag.person_id), PersonFlag.kind == "unexplained_fever", PersonFlag.cleared_at.is_(None),
            PersonFlag.voided_at.is_(None)),
    }


def facts_for(session: Session, person_ids: list[int] | tuple[int, int],
              areas: list[tuple[str, str]] | None = None) -> dict[int, dict]:
    """Parsed facts for several people, a few set queries in all: a list of ids, or an id range
    (lo, hi) inclusive."""
    by_range = isinstance(person_ids, tuple)
    params = {"lo": person_ids[0], "hi": person_ids[1]} if by_range else {"ids": list(person_ids)}
    session.flush()  # the queries go through the connection, which does not autoflush
    run = session.connection().execute
    rows = {kind: run(query, params) for kind, query in _fact_queries(by_range).items()}
    return facts_from_rows(rows, lambda: risk_table(session) if areas is None else areas)


def facts_from_rows(rows: dict, areas) -> dict[int, dict]:
    """Facts from rows shaped as _fact_queries returns them (also built in memory for someone
    registered a moment ago). Origins are classed by the more severe of what was known when
    reported and what the risk-area table (areas(), read only if someone travelled) says now:
    upgrades apply; a delisted area frees nobody early."""
    facts: dict[int, dict] = defaultdict(dict)
    for pid, present, at in rows.get("symptoms", ()):
        facts[pid]["symptoms"] = {"present": present, "declared_at": at, "recorded_at": at}
    for pid, status, since, released, recorded in rows.get("case", ()):
        facts[pid]["case"] = {"status": status, "since": since, "released_on": released, "recorded_at": recorded}
    for pid, kind, start, end, ended, recorded in rows.get("measures", ()):
        facts[pid].setdefault("measures", []).append({"kind": kind, "start": start, "end": end, "ended_on": ended,
                                                      "recorded_at": recorded})
    for pid, at, result, recorded in rows.get("tests", ()):
        facts[pid].setdefault("tests", []).append({"sampled_at": at, "result": result, "recorded_at": recorded})
    table = None
    for pid, overseas, cls, code, arrival, reported, recorded in rows.get("travel", ()):
        if overseas:
            facts[pid].setdefault("overseas", []).append({"arrival": arrival, "reported_on": reported,
                                                          "recorded_at": recorded})
        else:
            if table is None:
                table = areas()
            facts[pid].setdefault("travel", []).append({
                "origin_class": more_severe(cls, classify_origin(code, table)) or "low", "arrival": arrival,
                "reported_on": reported, "recorded_at": recorded})
    for pid, colour, reason, until, made in rows.get("designation", ()):
        facts[pid]["designation"] = {"colour": colour, "reason": reason, "until": until, "made_at": made}
    for pid, at in rows.get("fever", ()):
        facts[pid]["unexplained_fever"] = True
        facts[pid]["unexplained_fever_at"] = at
    return facts


def person_facts(session: Session, person_id: int) -> dict:
    return facts_for(session, [person_id]).get(person_id, {})


# -- decisions ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _code_sql() -> dict:
    b = bindparam
    return {
        "current": select(Code.colour, Code.rule, Code.version).where(Code.person_id == b("pid")),
        "insert": insert(Code).inline(),
        "history": insert(CodeHistory).inline(),
        "change": update(Code).where(Code.person_id == b("pid"), Code.version == b("old_version")),
    }


def apply_decision(session: Session, person_id: int, decision: Decision, *, cause: str, policy: str,
                   now: dt.datetime | None = None, notify: bool = True, first: bool = False,
                   told: int | None = None) -> Change | None:
    """Store a decision; returns the Change when colour or rule changed (None otherwise).
    Core statements (no ORM unit of work): this runs inside every declaration. `first`: the
    caller knows the person has no code yet (a person created in this transaction)."""
    if cause not in CAUSES:
        raise ValueError(f"cause must be one of {', '.join(CAUSES)}")
    now = now or utcnow()
    session.flush()
    conn = session.connection()
    q = _code_sql()
    row = None if first else conn.execute(q["current"], {"pid": person_id}).first()
    if row is None:
        # a concurrent first code for the same person fails here (primary key)
        conn.execute(q["insert"], dict(person_id=person_id, colour=decision.colour, rule=decision.rule,
                                       reason=decision.reason, next_step=decision.next_step, wording=decision.wording,
                                       version=1,
                                       policy=policy, since=now, evaluated_at=now, reevaluate_at=decision.reevaluate_at,
                                       green_at=decision.green_at))
        change = Change(person_id, None, decision.colour, 1, decision.rule)
    elif (row.colour, row.rule) != (decision.colour, decision.rule):
        version = row.version + 1
        values = dict(colour=decision.colour, rule=decision.rule, reason=decision.reason,
                      next_step=decision.next_step, wording=decision.wording, version=version, policy=policy,
                      evaluated_at=now,
                      reevaluate_at=decision.reevaluate_at, green_at=decision.green_at)
        if decision.colour != row.colour:
            values["since"] = now
        done = conn.execute(update(Code).where(Code.person_id == person_id, Code.version == row.version)
                            .values(**values)).rowcount
        if done != 1:
            raise CodeConflict(person_id)
        change = Change(person_id, row.colour, decision.colour, version, decision.rule)
    else:
        done = conn.execute(update(Code).where(Code.person_id == person_id, Code.version == row.version).values(
            reason=decision.reason, next_step=decision.next_step, wording=decision.wording, policy=policy,
            evaluated_at=now, reevaluate_at=decision.reevaluate_at, green_at=decision.green_at)).rowcount
        if done != 1:
            raise CodeConflict(person_id)
        _after_commit_schedule(session, decision.reevaluate_at)
        return None
    conn.execute(q["history"], dict(person_id=person_id, version=change.version, old_colour=change.old_colour,
                                    new_colour=change.new_colour, rule=decision.rule, reason=decision.reason,
                                    cause=cause, created_at=now))
    if notify and change.old_colour not in (None, change.new_colour):
        # a first code is told in the reply to the declaration, not as a change; so is a change
        # to the account whose message made it (`told`): one message, not a reply and a push
        queue_notices(session, [change], told=told)
    _after_commit_schedule(session, decision.reevaluate_at)
    from bot.infra.metrics import COLOUR_CHANGES

    COLOUR_CHANGES.labels(change.old_colour or "none", change.new_colour).inc()
    return change


def queue_notices(session: Session, changes: list[Change], told: int | None = None) -> None:
    """One outbox row for a batch of colour changes: the worker fans it out to every account
    that should hear of it (the person's own and the family accounts bound to them), but the
    chat account `told` already in its reply."""
    if changes:
        payload = {"changes": [[c.person_id, c.version] for c in changes]}
        if told is not None:
            payload["told"] = told
        outbox.add(session, "codes.changed", payload,
                   key=f"codes.changed:{changes[0].person_id}:{changes[0].version}:{len(changes)}")


def reevaluate(session: Session, policy: Policy, person_id: int, *, cause: str, now: dt.datetime | None = None,
               first: bool = False, facts: dict | None = None, told: int | None = None) -> tuple[Decision, Change | None]:
    """`facts`: the person's facts when the caller has them already (someone registered just now).
    `told`: the chat account whose message this is, answered in the reply (not pushed again)."""
    now = now or utcnow()
    decision = policy.evaluate(person_facts(session, person_id) if facts is None else facts, now)
    return decision, apply_decision(session, person_id, decision, cause=cause, policy=policy.name, now=now,
                                    first=first, told=told)


def reevaluate_person(services, person_id: int, *, cause: str, now: dt.datetime | None = None, tries: int = 3):
    """Re-evaluate in a transaction of its own, retrying when a concurrent change interferes."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(tries):
        try:
            with services.db.session() as s:
                return reevaluate(s, services.policy, person_id, cause=cause, now=now)
        except (CodeConflict, IntegrityError, OperationalError):  # SQLite: a stale snapshot's write
            if attempt == tries - 1:
                raise


# -- time ---------------------------------------------------------------------------------------

def _after_commit_schedule(session: Session, at: dt.datetime | None) -> None:
    """Make sure the time tick runs by `at` once this transaction commits (the earliest wins)."""
    if at is not None:
        on_commit(session, "reevaluate_tick", ticks.schedule, at, combine=min)


def code_dict(code: Code | None) -> dict | None:
    """A code as staff read it."""
    if code is None:
        return None
    return {"colour": code.colour, "rule": code.rule, "reason": code.reason, "next_step": code.next_step,
            "version": code.version, "since": code.since.isoformat(),
            "reevaluate_at": code.reevaluate_at.isoformat() if code.reevaluate_at else None}


def history(session: Session, person_id: int, limit: int = 50) -> list[dict]:
    """The latest changes of a person's code, newest first."""
    return [{"version": h.version, "old": h.old_colour, "new": h.new_colour, "rule": h.rule, "reason": h.reason,
             "cause": h.cause, "at": h.created_at.isoformat()}
            for h in session.scalars(select(CodeHistory).where(CodeHistory.person_id == person_id)
                                     .order_by(CodeHistory.version.desc()).limit(limit))]


def snapshot_colour_counts(session) -> dict[str, int]:
    """Today's people by colour into daily_colour_counts: the stats chart, and what a purge leaves."""
    from bot.domain.models import DailyColourCount

    today = utcnow().astimezone(SHANGHAI).date()
    counts = dict(session.execute(select(Code.colour, func.count()).group_by(Code.colour)).all())
    for colour in ("green", "yellow", "red"):
        row = session.get(DailyColourCount, (today, colour))
        if row is None:
            session.add(DailyColourCount(day=today, colour=colour, count=counts.get(colour, 0)))
        else:
            row.count = counts.get(colour, 0)
    return counts
