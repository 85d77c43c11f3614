"""Appeals (申诉): filed in chat, answered by staff within 24 hours.

- One open appeal per person at a time (filed by them or by a family member).
- The first reviewer who opens (claims) an appeal owns it (首问负责制); only they decide it.
- `corrected` voids the facts that were wrong (each keeps who, when and why) and the rules
  decide again, so nothing reverts silently later; only where no fact is at fault does it
  designate a colour instead (with an optional end). Either outcome is pushed to the person's
  accounts, the filer's and the bound family accounts, saying what was corrected.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import func, select, update

from bot.domain import audit
from bot.domain.errors import Conflict, Forbidden, Invalid
from bot.domain.alerts import resolve_by_void
from bot.domain.codes import reevaluate
from bot.domain.fact_records import FactError
from bot.domain.fact_records import void as void_facts
from bot.infra import outbox
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import Appeal, AppealEvidence, Code, Designation, Notice
from bot.domain.vocab import AppealStatus, EvidenceStatus, Source
from bot.infra.images.kinds import NotAnImage, image_type

DEADLINE = dt.timedelta(hours=24)
REASON_CODES = (1, 2, 3, 4, 5)  # the words: templates/chat/words.txt appeal_reason


OPEN = (AppealStatus.OPEN, AppealStatus.CLAIMED)
MAX_EVIDENCE = 5


def reason_word(code: int) -> str:
    from bot.infra.texts import say

    return say("words.appeal_reason", reason_code=code) if code in REASON_CODES else ""


class OpenAppeal(Conflict):
    """The person has an open appeal already: its number is the message."""


def open_appeal(session, person_id: int) -> Appeal | None:
    return session.scalars(select(Appeal).where(Appeal.person_id == person_id, Appeal.status.in_(OPEN))
                           .order_by(Appeal.id.desc())).first()


def next_number(session, now: dt.datetime) -> str:
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"SS{day}"
    count = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.number.like(prefix + "%"))) or 0
    return f"{prefix}{count + 1:06d}"


def file_appeal(session, vault, *, person_id: int, filed_by_id: int, reason_code: int, description: str,
                images: list[tuple[str | None, bytes, str]] = (), now: dt.datetime | None = None,
                staff=None, callback_phone: str | None = None) -> Appeal:
    """images: (platform media id, bytes, content type), already fetched from the platform.
    `staff`: a 12345 operator filing it for the caller, who hears the decision at `callback_phone`."""
    now = now or utcnow()
    existing = open_appeal(session, person_id)
    if existing is not None:
        raise OpenAppeal(existing.number)
    code = session.get(Code, person_id)
    appeal = Appeal(number=next_number(session, now), person_id=person_id, filed_by_id=filed_by_id,
                    reason_code=reason_code, description=description, colour_at_filing=code.colour if code else None,
                    status=AppealStatus.OPEN, deadline=now + DEADLINE, created_at=now,
                    source=Source.HOTLINE if staff is not None else Source.CHAT,
                    filed_by_staff_id=staff.id if staff is not None else None, callback_phone=callback_phone)
    session.add(appeal)
    session.flush()
    for media_id, data, _claimed_type in list(images)[:MAX_EVIDENCE]:
        e = AppealEvidence(appeal_id=appeal.id, media_id=media_id)
        keep_evidence(vault, e, data)
        session.add(e)
    if staff is not None:
        audit.by_staff(session, staff, "appeal.filed", person_id, number=appeal.number, source=Source.HOTLINE)
    else:
        audit.record(session, "appeal.filed", actor_kind="citizen", actor_id=filed_by_id, subject_person_id=person_id,
                     number=appeal.number, proxy=filed_by_id != person_id, evidence=len(images))
    return appeal


EVIDENCE_FAILURES = ("not_picture", "platform", "unreachable", "channel")


def keep_evidence(vault, e: AppealEvidence, data: bytes) -> bool:
    """Seal and keep an image if its bytes are a JPEG, PNG, GIF or WebP picture (the type is
    what Pillow finds, never what the sender said); otherwise the evidence failed, with why."""
    try:
        e.content_type = image_type(data)
    except NotAnImage as exc:
        failed_evidence(e, f"not_picture: {exc}")
        return False
    e.sha256, e.data = hashlib.sha256(data).hexdigest(), vault.seal(data, f"appeal_evidence:{e.appeal_id}")
    e.status, e.fetch_error = EvidenceStatus.FETCHED, None
    return True


def failed_evidence(e: AppealEvidence, reason: str) -> None:
    """reason: "kind: detail", kind one of EVIDENCE_FAILURES (the console words it)."""
    e.status, e.fetch_error, e.data = EvidenceStatus.FAILED, reason[:256], None


def claim(session, appeal: Appeal, staff_id: int, now: dt.datetime | None = None) -> bool:
    """Take ownership; True when this call took it. A compare-and-set, so two reviewers opening
    it at once cannot both own it."""
    if appeal.status == AppealStatus.DECIDED:
        raise Conflict("the appeal is already decided")
    if appeal.claimed_by_id == staff_id:
        return False
    if appeal.claimed_by_id is not None:
        raise Conflict("another reviewer has claimed this appeal")
    taken = session.execute(update(Appeal).where(Appeal.id == appeal.id, Appeal.claimed_by_id.is_(None),
                                                 Appeal.status == AppealStatus.OPEN)
                            .values(claimed_by_id=staff_id, claimed_at=now or utcnow(), status=AppealStatus.CLAIMED)).rowcount
    if taken != 1:
        raise Conflict("another reviewer has claimed this appeal")
    session.refresh(appeal)
    audit.record(session, "appeal.claimed", actor_kind="staff", actor_id=staff_id, subject_person_id=appeal.person_id,
                 number=appeal.number)
    return True


def hand_over(session, appeal: Appeal, staff, to_staff_id: int | None) -> None:
    """Release a claimed appeal (to None: the next reviewer to open it takes it) or reassign it to
    another reviewer. Its owner may, and an admin; audited with who had it and who has it now."""
    from bot.domain.models import Staff

    if appeal.status != AppealStatus.CLAIMED:
        raise Conflict("only an appeal being handled can be released or reassigned")
    if appeal.claimed_by_id != staff.id and staff.role != "admin":
        raise Forbidden("only the reviewer handling it, or an admin, can hand it over")
    before = appeal.claimed_by_id
    if to_staff_id is None:
        appeal.claimed_by_id, appeal.claimed_at, appeal.status = None, None, AppealStatus.OPEN
    else:
        to = session.get(Staff, to_staff_id)
        if to is None or to.role != "reviewer" or to.disabled_at is not None:
            raise Invalid("not an active reviewer", errors={"to": ["not an active reviewer"]})
        appeal.claimed_by_id, appeal.claimed_at = to.id, utcnow()
    audit.by_staff(session, staff, "appeal.released" if to_staff_id is None else "appeal.reassigned",
                   appeal.person_id, number=appeal.number, **{"from": before, "to": to_staff_id})


def decide(session, services, appeal: Appeal, staff_id: int, outcome: str, reply: str, *,
           void: list[str] = (), designation: dict | None = None, now: dt.datetime | None = None) -> dict:
    """`void`: ids of the facts at fault (bot.domain.fact_records), voided with the reply as reason.
    `designation`: {colour, until}, only where no fact is at fault."""
    now = now or utcnow()
    if appeal.status == AppealStatus.DECIDED:
        raise Conflict("the appeal is already decided")
    if appeal.claimed_by_id is None:
        raise Conflict("claim the appeal before deciding it")
    if appeal.claimed_by_id != staff_id:
        raise Forbidden("only the reviewer who claimed the appeal may decide it")
    if outcome == "upheld" and (void or designation):
        raise Invalid("an upheld appeal changes nothing: no void, no designation")
    if outcome == "corrected" and not (void or designation):
        raise Invalid("a correction voids the facts at fault (void) or, where none is, designates a colour")
    if void and designation:
        raise Invalid("void the facts at fault; a designation is only for when no fact is at fault")
    decision, voided = None, []
    if outcome == "corrected":
        try:
            voided = void_facts(session, appeal.person_id, list(void), staff_id=staff_id, reason=reply, now=now)
        except FactError as exc:
            raise Invalid(str(exc)) from None
        resolve_by_void(session, [int(f["id"].split(":")[1]) for f in voided if f["kind"] == "test"], staff_id, now)
        if designation:
            for d in session.scalars(select(Designation).where(Designation.person_id == appeal.person_id,
                                                               Designation.lifted_at.is_(None))):
                d.lifted_at = now
            session.add(Designation(person_id=appeal.person_id, colour=designation["colour"], reason=reply,
                                    staff_id=staff_id, until=designation.get("until"), created_at=now))
        session.flush()
        decision, _ = reevaluate(session, services.policy, appeal.person_id, cause="appeal", now=now)
    appeal.status, appeal.outcome, appeal.reply, appeal.decided_at = AppealStatus.DECIDED, outcome, reply, now
    appeal.decided_colour = decision.colour if decision else None
    from bot.domain.notices import id_tails, masked_names, nudge_after_commit, recipients

    to = dict(recipients(session, [appeal.person_id])[appeal.person_id])
    if appeal.filed_by_id and appeal.filed_by_id != appeal.person_id:
        for iid, _ in recipients(session, [appeal.filed_by_id])[appeal.filed_by_id]:
            to.setdefault(iid, True)
    name = masked_names(session, [appeal.person_id]).get(appeal.person_id, "")
    told = {"person_id": appeal.person_id, "number": appeal.number, "outcome": outcome, "reply": reply,
            "name_masked": name, "tail": id_tails(session, [appeal.person_id]).get(appeal.person_id, ""), "colour": decision.colour if decision else None,
            "voided": [_notice_fact(f) for f in voided],
            "designation": {"colour": designation["colour"], "until": designation["until"].isoformat()
                            if designation.get("until") else None} if designation else None}
    for iid, proxy in to.items():
        session.add(Notice(person_id=appeal.person_id, identity_id=iid, kind="appeal_decided",
                           payload={**told, "proxy": proxy}))
    nudge_after_commit(session)
    if appeal.source == Source.HOTLINE and appeal.callback_phone:  # the caller hears it by SMS
        outbox.add(session, "appeal.sms", {"appeal_id": appeal.id})
    audit.record(session, "appeal.decided", actor_kind="staff", actor_id=staff_id, subject_person_id=appeal.person_id,
                 number=appeal.number, outcome=outcome, voided=[f["id"] for f in voided],
                 designation=designation["colour"] if designation else None,
                 colour=decision.colour if decision else None)
    return {"number": appeal.number, "outcome": outcome, "colour": decision.colour if decision else None,
            "voided": [f["id"] for f in voided], "notices": len(to)}


def _notice_fact(fact: dict) -> dict:
    """What the push says of a voided fact: its kind and dates (no place names, no lab)."""
    keep = ("id", "kind", "present", "declared_at", "status", "since", "measure", "start", "result", "sampled_at",
            "overseas", "origin_class", "arrival", "flag")
    return {k: v for k, v in fact.items() if k in keep}


def overdue(appeal: Appeal, now: dt.datetime | None = None) -> bool:
    return appeal.status != AppealStatus.DECIDED and appeal.deadline < (now or utcnow())
