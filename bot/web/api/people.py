"""People: the audited look-up (代查), measures and case statuses (community, in its districts),
staff designations (admin). Each change re-evaluates the person, so colour changes are pushed."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from bot.domain import people, staff_changes
from bot.domain.models import CASE_STATUSES, COLOURS, ID_TYPES, MEASURE_KINDS
from bot.web import db
from bot.infra.db import SHANGHAI, utcnow
from bot.web.api.base import ApiSchema, services, staff, staff_route


class LookupQuery(ApiSchema):
    id_number = fields.String(required=True, validate=validate.Length(min=5, max=32))
    id_type = fields.String(load_default="id_card", validate=validate.OneOf(ID_TYPES))


class MeasureIn(ApiSchema):
    action = fields.String(required=True, validate=validate.OneOf(("start", "extend", "end")))
    kind = fields.String(required=True, validate=validate.OneOf(MEASURE_KINDS + CASE_STATUSES))
    start = fields.Date(metadata={"description": "start: the first day (default today)"})
    end = fields.Date(allow_none=True, metadata={"description": "start/extend: the planned last day"})
    on = fields.Date(metadata={"description": "end: the day it ended (default today)"})

    @validates_schema
    def _dates(self, data, **_):
        if data["action"] == "extend" and not data.get("end"):
            raise ValidationError("an extension needs the new end day", "end")
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ValidationError("is before the start", "end")


class DesignationIn(ApiSchema):
    colour = fields.String(validate=validate.OneOf(COLOURS))
    reason = fields.String(validate=validate.Length(min=2, max=500))
    until = fields.AwareDateTime(allow_none=True, default_timezone=SHANGHAI)
    lift = fields.Boolean(load_default=False, metadata={"description": "lift the active designation instead"})

    @validates_schema
    def _needed(self, data, **_):
        if not data.get("lift"):
            for name in ("colour", "reason"):
                if not data.get(name):
                    raise ValidationError("is required unless lift is true", name)
        if data.get("until") and data["until"] <= utcnow():
            raise ValidationError("is in the past", "until")


class CodeOut(ApiSchema):
    colour = fields.String()
    rule = fields.String()
    reason = fields.String()
    next_step = fields.String()
    version = fields.Integer()
    since = fields.String()


class PersonOut(ApiSchema):
    id = fields.Integer()
    id_type = fields.String()
    id_number = fields.String(metadata={"description": "in full: this look-up is audited"})
    name = fields.String()
    phone = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    code = fields.Nested(CodeOut, allow_none=True)
    history = fields.List(fields.Dict())


@staff_route("/people", roles=("reviewer", "community"), query=LookupQuery, response=PersonOut)
def lookup(args):
    """Staff look-up (代查) by ID number: the full record, audited."""
    session = db.session()
    try:
        person = people.look_up(session, services().vault, staff(), args["id_type"], args["id_number"])
    finally:
        session.commit()  # the audit row, found or not
    return people.record(session, person)


@staff_route("/people/<int:person_id>/measures", roles=("community",), methods=("POST",), body=MeasureIn)
def measures(person_id, data):
    """Start, extend or end a measure (isolation, observation, monitoring) or a case status."""
    session = db.session()
    out = staff_changes.change_measure(session, services().policy, staff(), person_id, data)
    session.commit()
    return out


@staff_route("/people/<int:person_id>/designation", roles=("admin",), methods=("POST",), body=DesignationIn)
def designation(person_id, data):
    """Designate a colour (with reason and expiry), or lift the active designation."""
    session = db.session()
    out = staff_changes.designate(session, services().policy, staff(), person_id, data)
    session.commit()
    return out
