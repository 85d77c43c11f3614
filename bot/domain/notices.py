"""Who hears of what, and getting the push workers going: the part of notices that the web
app, the chat actions and the workers share (delivery itself is workers.notices).

- recipients(): a person's own chat accounts and those of the family accounts bound to them.
- nudge_after_commit(): where notices are written, so that the commit (never before it)
  enqueues a drain job; nudge() does it, at most one waiting drain at a time.
- schedule_pass_ending(): the "your pass ends in 15 minutes" effect, due 15 minutes before.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import String, func, or_, select, type_coerce

from bot.infra import outbox
from bot.infra.after_commit import on_commit
from bot.infra.db import utcnow
from bot.infra.masking import id_tail, mask_name
from bot.domain.models import ChannelIdentity, FamilyBinding, LimitedPass, Notice, Person
from bot.domain.vocab import NoticeStatus

log = logging.getLogger(__name__)

QUEUED_FLAG = "notices:drain:queued"
DRAIN_TIMEOUT = 180  # seconds RQ gives one drain job (a drain hands over to a new job after 30 s)


def nudge(services) -> bool:
    """Enqueue a drain unless one is already waiting to start."""
    redis = services.redis.client()
    if not redis.set(QUEUED_FLAG, "1", nx=True, ex=60):
        return False
    services.queue("high").enqueue("workers.notices.drain", job_timeout=DRAIN_TIMEOUT,
                                   result_ttl=60, failure_ttl=7 * 86400, description="deliver notices")
    return True


def nudge_after_commit(session) -> None:
    """Call where notices are added: the commit (not before) sends a drain on its way."""
    on_commit(session, "notices", lambda services, _: nudge(services))


def due_count(session, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    return session.scalar(select(func.count()).select_from(Notice).where(_due(now))) or 0


def pending_due(now):
    """Waiting and its back-off over (what a drain claims)."""
    return (Notice.status == NoticeStatus.PENDING) & (Notice.available_at.is_(None) | (Notice.available_at <= now))


def _due(now):
    """Claimable now, or held by a run whose lease ran out (what the sweep nudges for)."""
    return or_(pending_due(now), (Notice.status == NoticeStatus.SENDING) & (Notice.lease_until < now))


def recipients(s, person_ids) -> dict[int, list[tuple[int, str | bool]]]:
    """Who hears of each person: (identity id, proxy) for the person's own subscribed chat
    accounts (proxy False) and those of the family members bound to them (proxy: the relation
    the binding names, e.g. "child", so the notice can say whose code it is)."""
    person_ids = set(person_ids)
    owners: dict[int, dict[int, str]] = {}
    for member, owner, kind in s.execute(select(FamilyBinding.member_id, FamilyBinding.owner_id,
                                                FamilyBinding.relationship_kind).where(
            FamilyBinding.member_id.in_(person_ids), FamilyBinding.unbound_at.is_(None))):
        owners.setdefault(member, {})[owner] = kind
    people = person_ids | {o for os_ in owners.values() for o in os_}
    identities: dict[int, list[int]] = {}
    for iid, pid in s.execute(select(ChannelIdentity.id, ChannelIdentity.person_id).where(
            ChannelIdentity.person_id.in_(people), ChannelIdentity.subscribed.is_(True))):
        identities.setdefault(pid, []).append(iid)
    out = {}
    for pid in person_ids:
        to = {pid: False, **{o: kind or "other" for o, kind in owners.get(pid, {}).items() if o != pid}}
        out[pid] = [(iid, proxy) for recipient, proxy in to.items() for iid in identities.get(recipient, ())]
    return out


def id_tails(s, person_ids) -> dict[int, str]:
    """The last 4 characters of each person's document number: told apart in family lists and
    pushes without showing the number ("王**（子女，尾号1234）"). One unreadable value costs only its own."""
    from bot.infra.pii import DecryptError

    vault = s.get_bind().dialect.pii_vault
    out = {}
    for pid, raw in s.execute(select(Person.id, type_coerce(Person.id_number, String))
                              .where(Person.id.in_(set(person_ids)))):
        try:
            out[pid] = id_tail(vault.decrypt(raw, "people.id_number"))
        except (DecryptError, ValueError):
            out[pid] = ""
    return out


def masked_names(s, person_ids) -> dict[int, str]:
    """Masked names for notices. Decrypted one by one, so one damaged value (or a key no longer
    configured) costs that notice its name, not the whole batch its delivery."""
    from bot.infra.pii import DecryptError

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


PASS_WARNING = dt.timedelta(minutes=15)


def schedule_pass_ending(session, limited_pass: LimitedPass) -> None:
    """The "your pass ends in 15 minutes" notice, due 15 minutes before the end (at once for a
    shorter pass). Written in the caller's transaction, like any effect."""
    due = limited_pass.ends_at - PASS_WARNING - utcnow()
    outbox.add(session, "pass.ending", {"pass_id": limited_pass.id, "ends_at": limited_pass.ends_at.isoformat()},
               key=f"pass.ending:{limited_pass.id}:{int(limited_pass.ends_at.timestamp())}",
               delay=due if due > dt.timedelta(0) else None)
