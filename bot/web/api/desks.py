"""Staff who serve people in person or on the phone. POST /api/v1/counter/people (counter):
register or find a person whose document the clerk holds, with their consent. POST
/api/v1/hotline-appeals (hotline): file an appeal for a caller checked by name, ID number and
the last 4 digits of the phone on file; the decision is texted to the callback number."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from bot.domain import counter, hotline
from bot.domain.appeals import REASON_CODES
from bot.domain.errors import Invalid
from bot.domain.idcard import IdProblem, check_number
from bot.domain.models import ID_TYPES
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import mask_name
from bot.web import db
from bot.web.api.base import CONTROL, ApiSchema, services, staff, staff_route

PHONE = validate.Regexp(r"^1[3-9]\d{9}$", error="must be a mainland mobile number, 11 digits")
NAME = validate.Regexp(r"^[^\d\x00-\x1f\x7f]{2,30}$", error="must be 2 to 30 characters, no digits")


class _Document(ApiSchema):
    name = fields.String(required=True, validate=NAME, metadata={"description": "as on the document"})
    id_type = fields.String(load_default="id_card", validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, validate=validate.Length(min=5, max=32))

    @validates_schema
    def _number(self, data, **_):
        try:
            data["id_number"] = check_number(data["id_type"], data["id_number"],
                                             utcnow().astimezone(SHANGHAI).date())[0]
        except IdProblem as problem:
            raise ValidationError(f"not a valid number ({problem.code})", "id_number") from None


class CounterPersonIn(_Document):
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE,
                          metadata={"description": "none for someone without a phone"})
    documents_checked = fields.Boolean(required=True, validate=validate.Equal(True),
                                       metadata={"description": "you checked the original document"})
    consent = fields.Boolean(required=True, validate=validate.Equal(True),
                             metadata={"description": "the person (or guardian) agreed to be registered"})


class CounterPersonOut(ApiSchema):
    person_id = fields.Integer()
    outcome = fields.String(metadata={"enum": ["registered", "confirmed", "found"]})
    name_masked = fields.String()


@staff_route("/counter/people", roles=("counter",), methods=("POST",), body=CounterPersonIn,
             response=CounterPersonOut)
def counter_people(data):
    """Register, or find by name and ID number, a person served in person (audited, with consent)."""
    session = db.session()
    try:
        person, outcome = counter.serve(session, services().vault, staff(), **data)
    except Invalid:
        session.commit()  # the audit row of a name that does not match
        raise
    session.commit()
    return {"person_id": person.id, "outcome": outcome, "name_masked": mask_name(person.name)}


class HotlineAppealIn(_Document):
    phone_tail = fields.String(required=True, validate=validate.Regexp(r"^\d{4}$"),
                               metadata={"description": "the last 4 digits of the phone on file, as the caller says"})
    callback_phone = fields.String(required=True, validate=PHONE,
                                   metadata={"description": "where the decision is texted (sealed)"})
    reason_code = fields.Integer(required=True, validate=validate.OneOf(REASON_CODES))
    description = fields.String(required=True, validate=validate.Length(min=5, max=500))

    @validates_schema
    def _text(self, data, **_):
        if CONTROL.search(data.get("description", "")):
            raise ValidationError("holds control characters", "description")


class HotlineAppealOut(ApiSchema):
    number = fields.String()
    deadline = fields.String()
    source = fields.String()


@staff_route("/hotline-appeals", roles=("hotline",), methods=("POST",), body=HotlineAppealIn,
             response=HotlineAppealOut)
def hotline_appeals(data):
    """File an appeal for a 12345 caller (checked by name, ID number, last 4 of the phone on file)."""
    session = db.session()
    try:
        appeal = hotline.file_for_caller(session, services(), staff(), **data)
    except Invalid:
        session.commit()  # the audit row of a caller not verified
        raise
    session.commit()
    return {"number": appeal.number, "deadline": appeal.deadline.isoformat(), "source": appeal.source}
