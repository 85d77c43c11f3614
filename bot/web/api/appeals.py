"""Appeals for reviewers: the queue (oldest deadline first, overdue flagged), the audited detail
with evidence, claim (the first reviewer owns it; a second claim is 409), decision (owner only)."""
from __future__ import annotations

from flask import Response
from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from bot.domain import appeals as appeal_rules
from bot.infra import db
from bot.domain import fact_records
from bot.web.api import ApiError, ApiSchema, audit_staff, services, staff, staff_route
from bot.web.api.people import code_dict, history
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import mask_name, mask_text
from bot.domain.models import COLOURS, Appeal, AppealEvidence, Code, Person, Staff

STATUSES = ("open", "claimed", "decided", "overdue", "all")


class QueueQuery(ApiSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(STATUSES),
                           metadata={"description": "open = not decided yet (open or claimed)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class CorrectionDesignation(ApiSchema):
    colour = fields.String(required=True, validate=validate.OneOf(COLOURS))
    until = fields.AwareDateTime(allow_none=True, load_default=None, default_timezone=SHANGHAI,
                                 metadata={"description": "when it lapses and the rules decide again (none: until lifted)"})

    @validates_schema
    def _future(self, data, **_):
        if data.get("until") and data["until"] <= utcnow():
            raise ValidationError("is in the past", "until")


class DecisionIn(ApiSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(("corrected", "upheld")))
    reply = fields.String(required=True, validate=validate.Length(min=2, max=500))
    void = fields.List(fields.String(validate=validate.Regexp(r"^[a-z]+:[0-9]{1,10}$")), load_default=list,
                       validate=validate.Length(max=50), metadata={
                           "description": "corrected: ids of the facts at fault (from the appeal detail's facts), "
                                          "each voided with the reply as its reason; the rules then decide again"})
    designation = fields.Nested(CorrectionDesignation, allow_none=True, metadata={
        "description": "corrected, where no fact is at fault: a designated colour, with an optional end"})
    colour = fields.String(validate=validate.OneOf(COLOURS), allow_none=True, metadata={
        "description": "the first version's form: the same as designation {colour} without an end"})

    @validates_schema
    def _correction(self, data, **_):
        if data.get("colour") and data.get("designation"):
            raise ValidationError("give designation or colour, not both", "colour")
        if data.get("outcome") == "corrected" and not (data.get("void") or data.get("designation") or data.get("colour")):
            raise ValidationError("a correction voids the facts at fault, or designates a colour where none is",
                                  "void")
        if data.get("void") and (data.get("designation") or data.get("colour")):
            raise ValidationError("void the facts at fault; a designation is only for when no fact is at fault",
                                  "designation")
        if data.get("outcome") == "upheld" and (data.get("void") or data.get("designation") or data.get("colour")):
            raise ValidationError("an upheld appeal changes nothing", "outcome")


class AppealItem(ApiSchema):
    number = fields.String()
    subject_masked = fields.String()
    reason = fields.String()
    status = fields.String()
    deadline = fields.String()
    overdue = fields.Boolean()
    claimed_by = fields.String(allow_none=True)
    colour_at_filing = fields.String(allow_none=True)
    created_at = fields.String()


class QueueOut(ApiSchema):
    appeals = fields.List(fields.Nested(AppealItem))


def appeal_or_404(session, number: str) -> Appeal:
    appeal = session.scalar(select(Appeal).where(Appeal.number == number))
    if appeal is None:
        raise ApiError(404, "no such appeal")
    return appeal


def item(appeal: Appeal, name: str, reviewer: str | None, now) -> dict:
    return {"number": appeal.number, "subject_masked": mask_name(name),
            "reason": appeal_rules.reason_word(appeal.reason_code), "status": appeal.status,
            "deadline": appeal.deadline.isoformat(), "overdue": appeal_rules.overdue(appeal, now),
            "claimed_by": reviewer, "colour_at_filing": appeal.colour_at_filing, "outcome": appeal.outcome,
            "created_at": appeal.created_at.isoformat()}


def queue(session, status: str, limit: int = 100) -> list[dict]:
    now = utcnow()
    q = select(Appeal, Person.name, Staff.name).join(Person, Person.id == Appeal.person_id) \
        .outerjoin(Staff, Staff.id == Appeal.claimed_by_id)
    if status == "open":
        q = q.where(Appeal.status.in_(appeal_rules.OPEN))
    elif status == "overdue":
        q = q.where(Appeal.status.in_(appeal_rules.OPEN), Appeal.deadline < now)
    elif status != "all":
        q = q.where(Appeal.status == status)
    q = q.order_by(Appeal.deadline, Appeal.id).limit(limit)
    return [item(a, name, reviewer, now) for a, name, reviewer in session.execute(q)]


def detail(session, appeal: Appeal) -> dict:
    """The whole appeal for its reviewer: audited (it holds personal data)."""
    person = session.get(Person, appeal.person_id)
    reviewer = session.get(Staff, appeal.claimed_by_id) if appeal.claimed_by_id else None
    out = item(appeal, person.name, reviewer.name if reviewer else None, utcnow())
    out.update(description=appeal.description, reply=appeal.reply, decided_colour=appeal.decided_colour,
               decided_at=appeal.decided_at.isoformat() if appeal.decided_at else None,
               person_id=person.id, code=code_dict(session.get(Code, person.id)), history=history(session, person.id),
               evidence=[{"id": e.id, "content_type": e.content_type, "sha256": e.sha256}
                         for e in session.scalars(select(AppealEvidence).where(AppealEvidence.appeal_id == appeal.id)
                                                  .order_by(AppealEvidence.id))],
               proxy=appeal.filed_by_id not in (None, appeal.person_id),
               facts=fact_records.listing(session, person.id),
               voided_facts=fact_records.listing(session, person.id, voided=True))
    audit_staff(session, "appeal.read", person.id, number=appeal.number, description=mask_text(appeal.description)[:80])
    return out


@staff_route("/appeals", roles=("reviewer",), query=QueueQuery, response=QueueOut)
def list_appeals(args):
    """The appeal queue, oldest deadline first."""
    return {"appeals": queue(db.session(), args["status"], args["limit"])}


@staff_route("/appeals/<number>", roles=("reviewer",))
def get_appeal(number):
    """One appeal with its evidence list and the person's code history (audited)."""
    session = db.session()
    out = detail(session, appeal_or_404(session, number))
    session.commit()
    return out


@staff_route("/appeals/<number>/evidence/<int:evidence_id>", roles=("reviewer",))
def evidence(number, evidence_id):
    """An evidence image (audited)."""
    session = db.session()
    data, ctype = read_evidence(session, appeal_or_404(session, number), evidence_id)
    session.commit()
    return Response(data, mimetype=ctype, headers={"Cache-Control": "private, no-store"})


def read_evidence(session, appeal: Appeal, evidence_id: int, **detail) -> tuple[bytes, str]:
    """An evidence image unsealed, and the audit row for reading it (the caller commits)."""
    e = session.get(AppealEvidence, evidence_id)
    if e is None or e.appeal_id != appeal.id or e.data is None:
        raise ApiError(404, "no such evidence")
    data = services().vault.unseal(e.data, f"appeal_evidence:{appeal.id}")
    audit_staff(session, "appeal.evidence_read", appeal.person_id, number=appeal.number, evidence_id=e.id, **detail)
    return data, e.content_type


@staff_route("/appeals/<number>/claim", roles=("reviewer",), methods=("POST",))
def claim(number):
    """Take the appeal (首问负责制): the first reviewer owns it; another's claim is 409."""
    session = db.session()
    appeal = appeal_or_404(session, number)
    try:
        took = appeal_rules.claim(session, appeal, staff().id)
    except appeal_rules.AppealError as exc:
        raise ApiError(exc.status, str(exc)) from None
    session.commit()
    return {"number": number, "status": appeal.status, "claimed_by": staff().name, "newly_claimed": took}


@staff_route("/appeals/<number>/decision", roles=("reviewer",), methods=("POST",), body=DecisionIn)
def decision(number, data):
    """Decide an appeal you claimed: corrected (voiding the facts at fault, or designating a colour
    where none is) or upheld, with a reply."""
    session = db.session()
    appeal = appeal_or_404(session, number)
    try:
        designation = data.get("designation") or ({"colour": data["colour"], "until": None}
                                                  if data.get("colour") else None)
        out = appeal_rules.decide(session, services(), appeal, staff().id, data["outcome"], data["reply"],
                                  void=data["void"], designation=designation)
    except appeal_rules.AppealError as exc:
        raise ApiError(exc.status, str(exc)) from None
    session.commit()
    return out
