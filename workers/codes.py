"""Jobs and effects that change codes: time ticks, mass re-evaluation chunks, notice fan-out,
the limited pass's closing notice."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select

from bot import outbox, reevaluation, ticks
from bot.codes import risk_table
from bot.db import SHANGHAI, utcnow
from bot.masking import mask_name
from bot.models import (ChannelIdentity, Code, CodeHistory, FamilyBinding, LimitedPass, Notice, Person,
                        ReevaluationRun)
from workers import runtime
from workers.effects import PermanentError, effect
from workers.notices import nudge_after_commit

log = logging.getLogger(__name__)
BATCH = 2000


def reevaluate_due() -> int:
    """The scheduled tick: every code whose reevaluate_at has come, in batches; then the next tick."""
    svc = runtime.services()
    ticks.clear(svc)
    now, total = utcnow(), 0
    areas = None
    while True:
        with svc.db.session() as s:
            if areas is None:
                areas = risk_table(s)
            ids = list(s.scalars(select(Code.person_id).where(Code.reevaluate_at <= now)
                                 .order_by(Code.reevaluate_at).limit(BATCH)))
            if not ids:
                break
            processed, _ = reevaluation.reevaluate_batch(s, svc.policy, ids, cause="time", now=now, areas=areas)
            total += processed
    with svc.db.session() as s:
        upcoming = s.scalar(select(func.min(Code.reevaluate_at)))
    ticks.schedule(svc, min(upcoming, now + ticks.MAX_GAP) if upcoming else now + ticks.MAX_GAP)
    if total:
        log.info("time re-evaluated %d codes", total)
    return total


@effect("reeval.plan")
def plan(ctx):
    run = ctx.session.get(ReevaluationRun, ctx.payload["run_id"])
    if run is None:
        raise PermanentError(f"no re-evaluation run {ctx.payload['run_id']}")
    reevaluation.plan_run(ctx.session, run, ctx.payload.get("area_codes"), utcnow())


@effect("reeval.chunk")
def chunk(ctx):
    svc, now = ctx.services, utcnow()
    selector = tuple(ctx.payload["range"]) if "range" in ctx.payload else list(ctx.payload["ids"])
    processed, changes = reevaluation.reevaluate_batch(ctx.session, svc.policy, selector,
                                                       cause=ctx.payload.get("cause", "policy_change"), now=now)
    reevaluation.finish_chunk(ctx.session, ctx.payload["run_id"], processed, len(changes), now)


def recipients(s, person_ids) -> dict[int, list[tuple[int, bool]]]:
    """Who hears of each person: (identity id, proxy) for the person's own subscribed chat
    accounts and those of the family members bound to them (proxy=True)."""
    person_ids = set(person_ids)
    owners: dict[int, set[int]] = {}
    for member, owner in s.execute(select(FamilyBinding.member_id, FamilyBinding.owner_id).where(
            FamilyBinding.member_id.in_(person_ids), FamilyBinding.unbound_at.is_(None))):
        owners.setdefault(member, set()).add(owner)
    people = person_ids | {o for os_ in owners.values() for o in os_}
    identities: dict[int, list[int]] = {}
    for iid, pid in s.execute(select(ChannelIdentity.id, ChannelIdentity.person_id).where(
            ChannelIdentity.person_id.in_(people), ChannelIdentity.subscribed.is_(True))):
        identities.setdefault(pid, []).append(iid)
    return {pid: [(iid, recipient != pid) for recipient in {pid} | owners.get(pid, set())
                  for iid in identities.get(recipient, ())] for pid in person_ids}


def masked_names(s, person_ids) -> dict[int, str]:
    """Masked names for notices. Decrypted one by one, so one damaged value (or a key no longer
    configured) costs that notice its name, not the whole batch its delivery."""
    from sqlalchemy import String, type_coerce

    from bot.pii import DecryptError

    vault = s.get_bind().dialect.pii_vault
    out, unreadable = {}, []
    for pid, raw in s.execute(select(Person.id, type_coerce(Person.name, String)).where(Person.id.in_(set(person_ids)))):
        try:
            out[pid] = mask_name(vault.decrypt(raw, "people.name"))
        except (DecryptError, ValueError):
            unreadable.append(pid)
            out[pid] = ""
    if unreadable:
        log.warning("%d names could not be read (e.g. person %s); their notices go without them",
                    len(unreadable), unreadable[0])
    return out


@effect("codes.changed")
def fan_out(ctx):
    """A notice row for every account that should hear of each colour change: the person's own
    chat accounts and those of the family members bound to them. Delivery works on these rows."""
    s = ctx.session
    pairs = {int(pid): int(version) for pid, version in ctx.payload["changes"]}
    history = {(h.person_id, h.version): h for h in s.scalars(select(CodeHistory).where(
        CodeHistory.person_id.in_(pairs), CodeHistory.version.in_(set(pairs.values()))))}
    to = recipients(s, pairs)
    names = masked_names(s, pairs)
    rows = []
    for pid, version in pairs.items():
        h = history.get((pid, version))
        if h is None:
            continue
        payload = {"person_id": pid, "version": version, "old": h.old_colour, "new": h.new_colour,
                   "rule": h.rule, "reason": h.reason, "name_masked": names.get(pid, "")}
        for iid, proxy in to[pid]:
            rows.append(dict(person_id=pid, identity_id=iid, kind="code_changed", status="pending",
                             payload={**payload, "proxy": proxy}, created_at=utcnow()))
    if rows:
        s.execute(Notice.__table__.insert(), rows)
        nudge_after_commit(s)


PASS_WARNING = dt.timedelta(minutes=15)


def schedule_pass_ending(session, limited_pass: LimitedPass) -> None:
    """The "your pass ends in 15 minutes" notice, due 15 minutes before the end (at once for a
    shorter pass). Written in the caller's transaction, like any effect."""
    due = limited_pass.ends_at - PASS_WARNING - utcnow()
    outbox.add(session, "pass.ending", {"pass_id": limited_pass.id, "ends_at": limited_pass.ends_at.isoformat()},
               key=f"pass.ending:{limited_pass.id}:{int(limited_pass.ends_at.timestamp())}",
               delay=due if due > dt.timedelta(0) else None)


@effect("pass.ending")
def pass_ending(ctx):
    s = ctx.session
    p = s.get(LimitedPass, ctx.payload["pass_id"])
    if p is None or p.ends_at.isoformat() != ctx.payload["ends_at"] or p.ends_at <= utcnow():
        return  # cancelled, changed (a new row is scheduled for the new end) or already over
    until = p.ends_at.astimezone(SHANGHAI).strftime("%H:%M")
    name = masked_names(s, [p.person_id]).get(p.person_id, "")
    rows = [dict(person_id=p.person_id, identity_id=iid, kind="pass_ending", status="pending", created_at=utcnow(),
                 payload={"person_id": p.person_id, "until": until, "name_masked": name, "proxy": proxy})
            for iid, proxy in recipients(s, [p.person_id])[p.person_id]]
    if rows:
        s.execute(Notice.__table__.insert(), rows)
        nudge_after_commit(s)
