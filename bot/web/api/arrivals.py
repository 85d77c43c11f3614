"""The 一键直报 queue for community staff, within their districts: the first officer to open a
report owns it until it is verified."""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import or_, select, update

from bot.infra import db
from bot.web.api import ApiError, ApiSchema, audit_staff, in_scope, require_scope, services, staff, staff_route
from bot.domain.codes import reevaluate
from bot.infra.db import utcnow
from bot.infra.masking import mask_address, mask_name, mask_phone
from bot.domain.models import ORIGIN_CLASSES, ArrivalReport, Person, Staff, TravelFact

CLASSES = tuple(c for c in ORIGIN_CLASSES if c != "unknown")


class QueueQuery(ApiSchema):
    status = fields.String(load_default="pending", validate=validate.OneOf(("pending", "claimed", "verified", "all")))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class VerifyIn(ApiSchema):
    note = fields.String(load_default="", validate=validate.Length(max=500))
    origin_class = fields.String(validate=validate.OneOf(CLASSES), metadata={
        "description": "the origin's risk class as verified; required when the origin matched no risk area "
                       "(origin_class \"unknown\"); classifying re-runs the rules"})


def report_or_404(session, report_id: int) -> ArrivalReport:
    r = session.get(ArrivalReport, report_id)
    if r is None:
        raise ApiError(404, "no such report")
    require_scope(r.district)
    return r


def item(r: ArrivalReport, name: str, officer: str | None, origin_class: str | None = None) -> dict:
    return {"id": r.id, "subject_masked": mask_name(name), "origin_masked": mask_address(r.origin_address),
            "origin_code": r.origin_code, "origin_class": origin_class,
            "left_on": r.left_on.isoformat(), "arrival_on": r.arrival_on.isoformat(),
            "destination_masked": mask_address(r.destination_address), "district": r.district, "status": r.status,
            "claimed_by": officer, "created_at": r.created_at.isoformat()}


def queue(session, status: str, limit: int = 100) -> list[dict]:
    q = select(ArrivalReport, Person.name, Staff.name, TravelFact.origin_class) \
        .join(Person, Person.id == ArrivalReport.person_id) \
        .outerjoin(Staff, Staff.id == ArrivalReport.claimed_by_id) \
        .outerjoin(TravelFact, TravelFact.id == ArrivalReport.travel_fact_id)
    if status != "all":
        q = q.where(ArrivalReport.status == status)
    if staff().role == "community":
        q = q.where(or_(*[ArrivalReport.district.like(f"{code}%") for code in (staff().scope or ["-"])]))
    rows = session.execute(q.order_by(ArrivalReport.created_at, ArrivalReport.id).limit(limit))
    return [item(r, name, officer, cls) for r, name, officer, cls in rows if in_scope(r.district)]


def open_report(session, r: ArrivalReport) -> dict:
    """The full report (audited); opening a pending one claims it for this officer."""
    if r.status == "pending":
        session.execute(update(ArrivalReport).where(ArrivalReport.id == r.id, ArrivalReport.status == "pending")
                        .values(status="claimed", claimed_by_id=staff().id, claimed_at=utcnow()))
        session.refresh(r)
    person = session.get(Person, r.person_id)
    officer = session.get(Staff, r.claimed_by_id) if r.claimed_by_id else None
    fact = session.get(TravelFact, r.travel_fact_id) if r.travel_fact_id else None
    out = item(r, person.name, officer.name if officer else None, fact.origin_class if fact else None)
    out.update(origin_address=r.origin_address, destination_address=r.destination_address,
               phone_masked=mask_phone(person.phone), person_id=person.id, note=r.note,
               mine=r.claimed_by_id == staff().id)
    audit_staff(session, "arrival_report.read", person.id, report_id=r.id)
    return out


def verify_report(session, r: ArrivalReport, note: str, origin_class: str | None = None) -> None:
    """Verified by the officer who owns it (an unopened one is taken now): a compare-and-set, so
    two officers at once cannot both verify it. An origin that matched no risk area must be
    classified now; a class given re-runs the rules. ApiError 409 / 403 / 400 otherwise."""
    if r.status == "verified":
        raise ApiError(409, "already verified")
    if r.claimed_by_id not in (None, staff().id):
        raise ApiError(403, "another officer owns this report")
    fact = session.get(TravelFact, r.travel_fact_id) if r.travel_fact_id else None
    if fact is not None and fact.origin_class == "unknown" and not origin_class:
        raise ApiError(400, "invalid fields", errors={"origin_class": [
            "the origin matched no risk area: give its class (" + ", ".join(CLASSES) + ")"]})
    done = session.execute(update(ArrivalReport).where(
        ArrivalReport.id == r.id, ArrivalReport.status != "verified",
        or_(ArrivalReport.claimed_by_id.is_(None), ArrivalReport.claimed_by_id == staff().id)).values(
        status="verified", verified_at=utcnow(), claimed_by_id=staff().id, note=note or None)).rowcount
    if done != 1:
        raise ApiError(409, "the report changed meanwhile")
    if fact is not None and origin_class and origin_class != fact.origin_class:
        fact.origin_class, fact.recorded_at = origin_class, utcnow()
        session.flush()
        reevaluate(session, services().policy, r.person_id, cause="staff")
    audit_staff(session, "arrival_report.verified", r.person_id, report_id=r.id, origin_class=origin_class)


@staff_route("/arrival-reports", roles=("community",), query=QueueQuery)
def list_reports(args):
    """The arrival-report queue of your districts."""
    return {"reports": queue(db.session(), args["status"], args["limit"])}


@staff_route("/arrival-reports/<int:report_id>", roles=("community",))
def get_report(report_id):
    """A report in full (audited); the first officer to open it owns it."""
    session = db.session()
    out = open_report(session, report_or_404(session, report_id))
    session.commit()
    return out


@staff_route("/arrival-reports/<int:report_id>/verify", roles=("community",), methods=("POST",), body=VerifyIn)
def verify(report_id, data):
    """Mark a report verified (the officer who owns it; an unopened one is taken now)."""
    session = db.session()
    r = report_or_404(session, report_id)
    verify_report(session, r, data["note"], data.get("origin_class"))
    session.commit()
    return {"id": r.id, "status": "verified"}
