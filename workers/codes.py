"""Jobs and effects that change codes: time ticks, mass re-evaluation chunks, notice fan-out,
the limited pass's closing notice."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from bot.domain import reevaluation
from bot.domain.vocab import NoticeKind, NoticeStatus
from bot.infra import ticks
from bot.domain.codes import risk_table
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import Code, CodeHistory, LimitedPass, Notice, ReevaluationRun
from bot.domain import paper
from bot.domain.notices import id_tails, masked_names, nudge_after_commit, recipients
from workers import runtime
from workers.effects import PermanentError, effect

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


@effect("codes.changed")
def fan_out(ctx):
    """A notice row for every account that should hear of each colour change: the person's own
    chat accounts and those of the family members bound to them. Delivery works on these rows."""
    s = ctx.session
    pairs = {int(pid): int(version) for pid, version in ctx.payload["changes"]}
    history = {(h.person_id, h.version): h for h in s.scalars(select(CodeHistory).where(
        CodeHistory.person_id.in_(pairs), CodeHistory.version.in_(set(pairs.values()))))}
    to = recipients(s, pairs)
    names, tails = masked_names(s, pairs), id_tails(s, pairs)
    printed = paper.outstanding(s, pairs)  # their paper codes are outdated now: say to print again
    codes = {c.person_id: c for c in s.scalars(select(Code).where(Code.person_id.in_(pairs)))}
    rows = []
    for pid, version in pairs.items():
        h = history.get((pid, version))
        if h is None:
            continue
        code = codes.get(pid)
        current = code if code is not None and code.version == version else None  # not changed again since
        # what the colour may do is worded when the notice is sent, in the account's language
        payload = {"person_id": pid, "version": version, "old": h.old_colour, "new": h.new_colour,
                   "rule": h.rule, "reason": h.reason, "name_masked": names.get(pid, ""), "tail": tails.get(pid, ""),
                   "paper": pid in printed, "next_step": current.next_step if current else "",
                   "wording": current.wording if current else None,
                   "green_at": current.green_at.isoformat() if current and current.green_at else None}
        for iid, proxy in to[pid]:
            if iid == ctx.payload.get("told"):  # its reply said so already
                continue
            rows.append(dict(person_id=pid, identity_id=iid, kind=NoticeKind.CODE_CHANGED, status=NoticeStatus.PENDING,
                             payload={**payload, "proxy": proxy}, created_at=utcnow()))
    if rows:
        s.execute(Notice.__table__.insert(), rows)
        nudge_after_commit(s)


@effect("pass.ending")
def pass_ending(ctx):
    s = ctx.session
    p = s.get(LimitedPass, ctx.payload["pass_id"])
    if p is None or p.ends_at.isoformat() != ctx.payload["ends_at"] or p.ends_at <= utcnow():
        return  # cancelled, changed (a new row is scheduled for the new end) or already over
    until = p.ends_at.astimezone(SHANGHAI).strftime("%H:%M")
    name = masked_names(s, [p.person_id]).get(p.person_id, "")
    tail = id_tails(s, [p.person_id]).get(p.person_id, "")
    rows = [dict(person_id=p.person_id, identity_id=iid, kind=NoticeKind.PASS_ENDING, status=NoticeStatus.PENDING, created_at=utcnow(),
                 payload={"person_id": p.person_id, "until": until, "name_masked": name, "tail": tail, "proxy": proxy})
            for iid, proxy in recipients(s, [p.person_id])[p.person_id]]
    if rows:
        s.execute(Notice.__table__.insert(), rows)
        nudge_after_commit(s)
