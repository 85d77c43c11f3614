"""What reviewers see of appeals: the queue (oldest deadline first, overdue flagged), the whole
appeal with the facts the rules read (audited: it holds personal data), and evidence images."""
from __future__ import annotations

from sqlalchemy import select

from bot.domain import audit, fact_records
from bot.domain.appeals import OPEN, overdue, reason_word
from bot.domain.codes import code_dict, history
from bot.domain.errors import NotFound
from bot.domain.models import Appeal, AppealEvidence, Code, FamilyBinding, Person, Staff
from bot.infra.db import utcnow
from bot.infra.masking import mask_name, mask_phone
from bot.domain.vocab import AppealStatus, Source


def appeal_by_number(session, number: str) -> Appeal:
    appeal = session.scalar(select(Appeal).where(Appeal.number == number))
    if appeal is None:
        raise NotFound("no such appeal")
    return appeal


def item(appeal: Appeal, name: str, reviewer: str | None, now) -> dict:
    return {"number": appeal.number, "subject_masked": mask_name(name),
            "reason": reason_word(appeal.reason_code), "status": appeal.status,
            "deadline": appeal.deadline.isoformat(), "overdue": overdue(appeal, now),
            "claimed_by": reviewer, "colour_at_filing": appeal.colour_at_filing, "outcome": appeal.outcome,
            "created_at": appeal.created_at.isoformat(), "source": appeal.source}


def queue(session, status: str, limit: int = 100) -> list[dict]:
    now = utcnow()
    q = select(Appeal, Person.name, Staff.name).join(Person, Person.id == Appeal.person_id) \
        .outerjoin(Staff, Staff.id == Appeal.claimed_by_id)
    if status == AppealStatus.OPEN:
        q = q.where(Appeal.status.in_(OPEN))
    elif status == "overdue":
        q = q.where(Appeal.status.in_(OPEN), Appeal.deadline < now)
    elif status != "all":
        q = q.where(Appeal.status == status)
    q = q.order_by(Appeal.deadline, Appeal.id).limit(limit)
    return [item(a, name, reviewer, now) for a, name, reviewer in session.execute(q)]


def _filer(session, appeal: Appeal) -> dict | None:
    """Who filed an appeal for a family member, and as what relation (the binding of that time)."""
    if appeal.filed_by_id in (None, appeal.person_id):
        return None
    filer = session.get(Person, appeal.filed_by_id)
    kind = session.scalar(select(FamilyBinding.relationship_kind).where(
        FamilyBinding.owner_id == appeal.filed_by_id, FamilyBinding.member_id == appeal.person_id)
        .order_by(FamilyBinding.id.desc()).limit(1))
    return {"name_masked": mask_name(filer.name) if filer else "", "relation": kind, "person_id": appeal.filed_by_id}


def _hotline(session, appeal: Appeal) -> dict | None:
    """A 12345 appeal: the operator who filed it and where the decision SMS goes (masked)."""
    if appeal.source != Source.HOTLINE:
        return None
    operator = session.get(Staff, appeal.filed_by_staff_id) if appeal.filed_by_staff_id else None
    return {"operator": operator.name if operator else None, "callback_masked": mask_phone(appeal.callback_phone),
            "sms_sent_at": appeal.callback_sent_at.isoformat() if appeal.callback_sent_at else None}


def detail(session, staff, appeal: Appeal) -> dict:
    """The whole appeal for its reviewer: audited (it holds personal data)."""
    person = session.get(Person, appeal.person_id)
    reviewer = session.get(Staff, appeal.claimed_by_id) if appeal.claimed_by_id else None
    out = item(appeal, person.name, reviewer.name if reviewer else None, utcnow())
    out.update(description=appeal.description, reply=appeal.reply, decided_colour=appeal.decided_colour,
               decided_at=appeal.decided_at.isoformat() if appeal.decided_at else None,
               person_id=person.id, code=code_dict(session.get(Code, person.id)), history=history(session, person.id),
               evidence=[{"id": e.id, "content_type": e.content_type, "sha256": e.sha256, "status": e.status,
                          "fetch_error": e.fetch_error}
                         for e in session.scalars(select(AppealEvidence).where(AppealEvidence.appeal_id == appeal.id)
                                                  .order_by(AppealEvidence.id))],
               proxy=appeal.filed_by_id not in (None, appeal.person_id), hotline=_hotline(session, appeal),
               filed_by=_filer(session, appeal),
               facts=fact_records.listing(session, person.id),
               voided_facts=fact_records.listing(session, person.id, voided=True))
    # what was read, by field name: never the text itself (the log is append-only, it outlives a purge)
    audit.by_staff(session, staff, "appeal.read", person.id, number=appeal.number,
                   fields=["description", "reply", "evidence", "facts", "history"])
    return out


def read_evidence(session, vault, staff, appeal: Appeal, evidence_id: int, **detail) -> tuple[bytes, str]:
    """An evidence image unsealed, and the audit row for reading it (the caller commits)."""
    e = session.get(AppealEvidence, evidence_id)
    if e is None or e.appeal_id != appeal.id or e.data is None:
        raise NotFound("no such evidence")
    data = vault.unseal(e.data, f"appeal_evidence:{appeal.id}")
    audit.by_staff(session, staff, "appeal.evidence_read", appeal.person_id, number=appeal.number, evidence_id=e.id, **detail)
    return data, e.content_type
