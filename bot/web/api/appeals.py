"""Appeals for reviewers: the queue (oldest deadline first, overdue flagged), the audited detail
with evidence, claim (the first reviewer owns it; a second claim is 409), decision (owner only)."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from bot.domain import appeal_reviews as reviews
from bot.domain import appeals as appeal_rules
from bot.domain.models import COLOURS
from bot.domain.vocab import AppealStatus
from bot.web import db
from bot.web.headers import evidence_response
from bot.infra.db import SHANGHAI, utcnow
from bot.web.api.base import ApiSchema, services, staff, staff_route

STATUSES = (*AppealStatus, "overdue", "all")


class QueueQuery(ApiSchema):
    status = fields.String(load_default=AppealStatus.OPEN, validate=validate.OneOf(STATUSES),
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
    source = fields.String(metadata={"enum": ["chat", "hotline"]})


class QueueOut(ApiSchema):
    appeals = fields.List(fields.Nested(AppealItem))


@staff_route("/appeals", roles=("reviewer",), query=QueueQuery, response=QueueOut)
def list_appeals(args):
    """The appeal queue, oldest deadline first."""
    return {"appeals": reviews.queue(db.session(), args["status"], args["limit"])}


@staff_route("/appeals/<number>", roles=("reviewer",))
def get_appeal(number):
    """One appeal with its evidence list and the person's code history (audited)."""
    session = db.session()
    out = reviews.detail(session, staff(), reviews.appeal_by_number(session, number))
    session.commit()
    return out


@staff_route("/appeals/<number>/evidence/<int:evidence_id>", roles=("reviewer",))
def evidence(number, evidence_id):
    """An evidence image (audited)."""
    session = db.session()
    data, ctype = reviews.read_evidence(session, services().vault, staff(), reviews.appeal_by_number(session, number),
                                        evidence_id)
    session.commit()
    return evidence_response(data, ctype)


@staff_route("/appeals/<number>/claim", roles=("reviewer",), methods=("POST",))
def claim(number):
    """Take the appeal (首问负责制): the first reviewer owns it; another's claim is 409."""
    session = db.session()
    appeal = reviews.appeal_by_number(session, number)
    took = appeal_rules.claim(session, appeal, staff().id)
    session.commit()
    return {"number": number, "status": appeal.status, "claimed_by": staff().name, "newly_claimed": took}


@staff_route("/appeals/<number>/decision", roles=("reviewer",), methods=("POST",), body=DecisionIn)
def decision(number, data):
    """Decide an appeal you claimed: corrected (voiding the facts at fault, or designating a colour
    where none is) or upheld, with a reply."""
    session = db.session()
    appeal = reviews.appeal_by_number(session, number)
    designation = data.get("designation") or ({"colour": data["colour"], "until": None} if data.get("colour") else None)
    out = appeal_rules.decide(session, services(), appeal, staff().id, data["outcome"], data["reply"],
                              void=data["void"], designation=designation)
    session.commit()
    return out
