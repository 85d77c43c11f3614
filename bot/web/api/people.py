"""People: the audited look-up (代查), measures and case statuses (community, in its districts),
staff designations (admin). Each change re-evaluates the person, so colour changes are pushed."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from bot.infra import db
from bot.domain.alerts import resolve_by_case
from bot.web.api import ApiError, ApiSchema, audit_staff, require_scope, services, staff, staff_route
from bot.domain.codes import reevaluate
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import mask_id_number, mask_name, mask_phone
from bot.domain.models import (CASE_STATUSES, COLOURS, ID_TYPES, MEASURE_KINDS, CaseStatus, Code, CodeHistory, Designation,
                        Measure, Person)
from bot.domain.people import find_person


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


def person_or_404(session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ApiError(404, "no such person")
    return person


def code_dict(code: Code | None) -> dict | None:
    if code is None:
        return None
    return {"colour": code.colour, "rule": code.rule, "reason": code.reason, "next_step": code.next_step,
            "version": code.version, "since": code.since.isoformat(),
            "reevaluate_at": code.reevaluate_at.isoformat() if code.reevaluate_at else None}


def history(session, person_id: int, limit: int = 50) -> list[dict]:
    return [{"version": h.version, "old": h.old_colour, "new": h.new_colour, "rule": h.rule, "reason": h.reason,
             "cause": h.cause, "at": h.created_at.isoformat()}
            for h in session.scalars(select(CodeHistory).where(CodeHistory.person_id == person_id)
                                     .order_by(CodeHistory.version.desc()).limit(limit))]


@staff_route("/people", roles=("reviewer", "community"), query=LookupQuery, response=PersonOut)
def lookup(args):
    """Staff look-up (代查) by ID number: the full record, audited."""
    session = db.session()
    try:
        person = look_up(session, args["id_type"], args["id_number"])
    finally:
        session.commit()  # the audit row, found or not
    return {"id": person.id, "id_type": person.id_type, "id_number": person.id_number, "name": person.name,
            "phone": person.phone, "district": person.district, "code": code_dict(session.get(Code, person.id)),
            "history": history(session, person.id)}


def look_up(session, id_type: str, number: str, **detail) -> Person:
    """The audited look-up by ID number (the caller commits the audit row): ApiError 404 when
    nobody has it, 403 outside a community officer's districts."""
    person = find_person(session, services().vault, id_type, number)
    if person is None:
        audit_staff(session, "person.lookup", None, found=False, id_masked=mask_id_number(number), **detail)
        raise ApiError(404, "no person with this number")
    audit_staff(session, "person.lookup", person.id, found=True, id_masked=mask_id_number(person.id_number), **detail)
    require_scope(person.district)
    return person


@staff_route("/people/<int:person_id>/measures", roles=("community",), methods=("POST",), body=MeasureIn)
def measures(person_id, data):
    """Start, extend or end a measure (isolation, observation, monitoring) or a case status."""
    session = db.session()
    person = person_or_404(session, person_id)
    require_scope(person.district)
    today = utcnow().astimezone(SHANGHAI).date()
    kind, action = data["kind"], data["action"]
    if kind in CASE_STATUSES:
        open_row = session.scalars(select(CaseStatus).where(CaseStatus.person_id == person_id, CaseStatus.status == kind,
                                                            CaseStatus.released_on.is_(None),
                                                            CaseStatus.voided_at.is_(None))
                                   .order_by(CaseStatus.id.desc())).first()
        if action == "start":
            session.add(CaseStatus(person_id=person_id, status=kind, since=data.get("start") or today,
                                   staff_id=staff().id, recorded_at=utcnow()))
            resolve_by_case(session, person_id, kind, staff().id, utcnow())  # a positive test's alert is answered
        elif open_row is None:
            raise ApiError(409, f"no open {kind} status to {action}")
        elif action == "end":
            open_row.released_on = data.get("on") or today
        else:
            raise ApiError(409, "a case status has no end day to extend; end it when released")
    else:
        open_row = session.scalars(select(Measure).where(Measure.person_id == person_id, Measure.kind == kind,
                                                         Measure.ended_on.is_(None), Measure.voided_at.is_(None))
                                   .order_by(Measure.id.desc())).first()
        if action == "start":
            session.add(Measure(person_id=person_id, kind=kind, start=data.get("start") or today, end=data.get("end"),
                                source="staff", staff_id=staff().id))
        elif open_row is None:
            raise ApiError(409, f"no ongoing {kind} to {action}")
        elif action == "extend":
            if open_row.start and data["end"] < open_row.start:
                raise ApiError(400, "invalid fields", errors={"end": ["is before the measure's start"]})
            open_row.end, open_row.recorded_at = data["end"], utcnow()
        else:
            open_row.ended_on = data.get("on") or today
    session.flush()
    decision, change = reevaluate(session, services().policy, person_id, cause="measure")
    audit_staff(session, f"measure.{action}", person_id, kind=kind)
    session.commit()
    return {"person_id": person_id, "colour": decision.colour, "rule": decision.rule, "changed": change is not None}


@staff_route("/people/<int:person_id>/designation", roles=("admin",), methods=("POST",), body=DesignationIn)
def designation(person_id, data):
    """Designate a colour (with reason and expiry), or lift the active designation."""
    session = db.session()
    person_or_404(session, person_id)
    now = utcnow()
    active = session.scalars(select(Designation).where(Designation.person_id == person_id,
                                                       Designation.lifted_at.is_(None))).all()
    for d in active:
        d.lifted_at = now
    if data.get("lift"):
        if not active:
            raise ApiError(409, "no active designation to lift")
    else:
        session.add(Designation(person_id=person_id, colour=data["colour"], reason=data["reason"],
                                until=data.get("until"), staff_id=staff().id))
    session.flush()
    decision, change = reevaluate(session, services().policy, person_id, cause="staff")
    audit_staff(session, "designation.lift" if data.get("lift") else "designation.set", person_id,
                colour=data.get("colour"), until=data["until"].isoformat() if data.get("until") else None)
    session.commit()
    return {"person_id": person_id, "colour": decision.colour, "rule": decision.rule, "changed": change is not None}


def masked_person(person: Person) -> dict:
    return {"id": person.id, "name_masked": mask_name(person.name), "id_masked": mask_id_number(person.id_number),
            "phone_masked": mask_phone(person.phone)}
