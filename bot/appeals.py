"""Appeals (申诉): filed in chat, answered by staff within 24 hours.

- One open appeal per person at a time (filed by them or by a family member).
- The first reviewer who opens (claims) an appeal owns it (首问负责制); only they decide it.
- `corrected` sets the colour through a staff designation whose reason is the reply, and
  re-evaluates; either outcome is pushed to the person's accounts, the filer's and the bound
  family accounts.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import func, select, update

from bot import audit
from bot.codes import reevaluate
from bot.db import SHANGHAI, utcnow
from bot.models import Appeal, AppealEvidence, Code, Designation, Notice

DEADLINE = dt.timedelta(hours=24)
REASON_CODES = (1, 2, 3, 4, 5)  # the words: templates/chat/words.txt appeal_reason


def reason_word(code: int) -> str:
    from bot.texts import say

    return say("words.appeal_reason", reason_code=code) if code in REASON_CODES else ""
OPEN = ("open", "claimed")
MAX_EVIDENCE = 5
# A correction holds this long (the longest observation period), then the rules decide again;
# staff can lift it or designate anew through the API.
CORRECTION = dt.timedelta(days=14)


class AppealError(Exception):
    """A rule of the appeal process refused the action (status: the HTTP code that fits)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def open_appeal(session, person_id: int) -> Appeal | None:
    return session.scalars(select(Appeal).where(Appeal.person_id == person_id, Appeal.status.in_(OPEN))
                           .order_by(Appeal.id.desc())).first()


def next_number(session, now: dt.datetime) -> str:
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"SS{day}"
    count = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.number.like(prefix + "%"))) or 0
    return f"{prefix}{count + 1:06d}"


def file_appeal(session, vault, *, person_id: int, filed_by_id: int, reason_code: int, description: str,
                images: list[tuple[str | None, bytes, str]] = (), now: dt.datetime | None = None) -> Appeal:
    """images: (platform media id, bytes, content type), already fetched from the platform."""
    now = now or utcnow()
    existing = open_appeal(session, person_id)
    if existing is not None:
        raise AppealError(409, existing.number)
    code = session.get(Code, person_id)
    appeal = Appeal(number=next_number(session, now), person_id=person_id, filed_by_id=filed_by_id,
                    reason_code=reason_code, description=description, colour_at_filing=code.colour if code else None,
                    status="open", deadline=now + DEADLINE, created_at=now)
    session.add(appeal)
    session.flush()
    for media_id, data, ctype in list(images)[:MAX_EVIDENCE]:
        session.add(AppealEvidence(appeal_id=appeal.id, media_id=media_id, content_type=ctype,
                                   sha256=hashlib.sha256(data).hexdigest(),
                                   data=vault.seal(data, f"appeal_evidence:{appeal.id}")))
    audit.record(session, "appeal.filed", actor_kind="citizen", actor_id=filed_by_id, subject_person_id=person_id,
                 number=appeal.number, proxy=filed_by_id != person_id, evidence=len(images))
    return appeal


def claim(session, appeal: Appeal, staff_id: int, now: dt.datetime | None = None) -> bool:
    """Take ownership; True when this call took it. A compare-and-set, so two reviewers opening
    it at once cannot both own it."""
    if appeal.status == "decided":
        raise AppealError(409, "the appeal is already decided")
    if appeal.claimed_by_id == staff_id:
        return False
    if appeal.claimed_by_id is not None:
        raise AppealError(409, "another reviewer has claimed this appeal")
    taken = session.execute(update(Appeal).where(Appeal.id == appeal.id, Appeal.claimed_by_id.is_(None),
                                                 Appeal.status == "open")
                            .values(claimed_by_id=staff_id, claimed_at=now or utcnow(), status="claimed")).rowcount
    if taken != 1:
        raise AppealError(409, "another reviewer has claimed this appeal")
    session.refresh(appeal)
    audit.record(session, "appeal.claimed", actor_kind="staff", actor_id=staff_id, subject_person_id=appeal.person_id,
                 number=appeal.number)
    return True


def decide(session, services, appeal: Appeal, staff_id: int, outcome: str, reply: str, colour: str | None = None,
           now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    if appeal.status == "decided":
        raise AppealError(409, "the appeal is already decided")
    if appeal.claimed_by_id is None:
        raise AppealError(409, "claim the appeal before deciding it")
    if appeal.claimed_by_id != staff_id:
        raise AppealError(403, "only the reviewer who claimed the appeal may decide it")
    decision = None
    if outcome == "corrected":
        for d in session.scalars(select(Designation).where(Designation.person_id == appeal.person_id,
                                                           Designation.lifted_at.is_(None))):
            d.lifted_at = now
        session.add(Designation(person_id=appeal.person_id, colour=colour, reason=reply, staff_id=staff_id,
                                until=now + CORRECTION))
        session.flush()
        decision, _ = reevaluate(session, services.policy, appeal.person_id, cause="appeal", now=now)
    appeal.status, appeal.outcome, appeal.reply, appeal.decided_at = "decided", outcome, reply, now
    appeal.decided_colour = colour if outcome == "corrected" else None
    from bot.notices import masked_names, nudge_after_commit, recipients

    to = dict(recipients(session, [appeal.person_id])[appeal.person_id])
    if appeal.filed_by_id and appeal.filed_by_id != appeal.person_id:
        for iid, _ in recipients(session, [appeal.filed_by_id])[appeal.filed_by_id]:
            to.setdefault(iid, True)
    name = masked_names(session, [appeal.person_id]).get(appeal.person_id, "")
    for iid, proxy in to.items():
        session.add(Notice(person_id=appeal.person_id, identity_id=iid, kind="appeal_decided", payload={
            "person_id": appeal.person_id, "number": appeal.number, "outcome": outcome, "reply": reply,
            "name_masked": name, "proxy": proxy}))
    nudge_after_commit(session)
    audit.record(session, "appeal.decided", actor_kind="staff", actor_id=staff_id, subject_person_id=appeal.person_id,
                 number=appeal.number, outcome=outcome, colour=colour)
    return {"number": appeal.number, "outcome": outcome, "colour": decision.colour if decision else None,
            "notices": len(to)}


def overdue(appeal: Appeal, now: dt.datetime | None = None) -> bool:
    return appeal.status != "decided" and appeal.deadline < (now or utcnow())
