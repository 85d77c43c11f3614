"""一键直报 for community staff: the queue of their districts, the audited report (the first
officer to open one owns it until it is verified), and verifying it, which classifies an origin
the risk-area table did not know and re-runs the rules."""
from __future__ import annotations

from sqlalchemy import or_, select, update

from bot.domain import audit
from bot.domain.codes import reevaluate
from bot.domain.errors import Conflict, Forbidden, Invalid, NotFound
from bot.domain.models import ORIGIN_CLASSES, ArrivalReport, Person, ReportHandOver, Staff, TravelFact
from bot.domain.staff import in_scope, require_scope
from bot.infra.db import utcnow
from bot.infra.masking import mask_address, mask_name, mask_phone
from bot.domain.vocab import ReportStatus

CLASSES = tuple(c for c in ORIGIN_CLASSES if c != "unknown")


def report_by_id(session, staff, report_id: int) -> ArrivalReport:
    r = session.get(ArrivalReport, report_id)
    if r is None:
        raise NotFound("no such report")
    require_scope(staff, r.district)
    return r


def item(r: ArrivalReport, name: str, officer: str | None, origin_class: str | None = None) -> dict:
    return {"id": r.id, "subject_masked": mask_name(name), "origin_masked": mask_address(r.origin_address),
            "origin_code": r.origin_code, "origin_class": origin_class,
            "left_on": r.left_on.isoformat(), "arrival_on": r.arrival_on.isoformat(),
            "destination_masked": mask_address(r.destination_address), "district": r.district, "status": r.status,
            "claimed_by": officer, "created_at": r.created_at.isoformat()}


def queue(session, staff, status: str, limit: int = 100) -> list[dict]:
    """The reports of the staff member's districts (all, for other roles), oldest first."""
    q = select(ArrivalReport, Person.name, Staff.name, TravelFact.origin_class) \
        .join(Person, Person.id == ArrivalReport.person_id) \
        .outerjoin(Staff, Staff.id == ArrivalReport.claimed_by_id) \
        .outerjoin(TravelFact, TravelFact.id == ArrivalReport.travel_fact_id)
    if status != "all":
        q = q.where(ArrivalReport.status == status)
    if staff.role == "community":
        q = q.where(or_(*[ArrivalReport.district.like(f"{code}%") for code in (staff.scope or ["-"])]))
    rows = session.execute(q.order_by(ArrivalReport.created_at, ArrivalReport.id).limit(limit))
    return [item(r, name, officer, cls) for r, name, officer, cls in rows if in_scope(staff, r.district)]


def open_report(session, staff, r: ArrivalReport) -> dict:
    """The full report (audited); opening a pending one claims it for this officer."""
    if r.status == ReportStatus.PENDING:
        session.execute(update(ArrivalReport).where(ArrivalReport.id == r.id, ArrivalReport.status == ReportStatus.PENDING)
                        .values(status=ReportStatus.CLAIMED, claimed_by_id=staff.id, claimed_at=utcnow()))
        session.refresh(r)
    person = session.get(Person, r.person_id)
    officer = session.get(Staff, r.claimed_by_id) if r.claimed_by_id else None
    fact = session.get(TravelFact, r.travel_fact_id) if r.travel_fact_id else None
    out = item(r, person.name, officer.name if officer else None, fact.origin_class if fact else None)
    out.update(origin_address=r.origin_address, destination_address=r.destination_address,
               phone_masked=mask_phone(person.phone), person_id=person.id, note=r.note,
               mine=r.claimed_by_id == staff.id, timeline=timeline(session, r))
    audit.by_staff(session, staff, "arrival_report.read", person.id, report_id=r.id)
    return out


def verify_report(session, policy, staff, r: ArrivalReport, note: str, origin_class: str | None = None) -> None:
    """Verified by the officer who owns it (an unopened one is taken now): a compare-and-set, so
    two officers at once cannot both verify it. An origin that matched no risk area must be
    classified now; a class given re-runs the rules. Conflict, Forbidden or Invalid otherwise."""
    if r.status == "verified":
        raise Conflict("already verified")
    if r.claimed_by_id not in (None, staff.id):
        raise Forbidden("another officer owns this report")
    fact = session.get(TravelFact, r.travel_fact_id) if r.travel_fact_id else None
    if fact is not None and fact.origin_class == "unknown" and not origin_class:
        raise Invalid("invalid fields", errors={"origin_class": [
            "the origin matched no risk area: give its class (" + ", ".join(CLASSES) + ")"]})
    done = session.execute(update(ArrivalReport).where(
        ArrivalReport.id == r.id, ArrivalReport.status != "verified",
        or_(ArrivalReport.claimed_by_id.is_(None), ArrivalReport.claimed_by_id == staff.id)).values(
        status="verified", verified_at=utcnow(), claimed_by_id=staff.id, note=note or None)).rowcount
    if done != 1:
        raise Conflict("the report changed meanwhile")
    if fact is not None and origin_class and origin_class != fact.origin_class:
        fact.origin_class, fact.recorded_at = origin_class, utcnow()
        session.flush()
        reevaluate(session, policy, r.person_id, cause="staff")
    audit.by_staff(session, staff, "arrival_report.verified", r.person_id, report_id=r.id, origin_class=origin_class)


def hand_over(session, staff, r: ArrivalReport, to_district: str, receiver_name: str, receiver_contact: str,
              note: str = "") -> ReportHandOver:
    """首问负责制: the officer who owns a report hands it to another district, naming who receives
    it and how to reach them. The report waits there for its first opener; the giver no longer
    owns it (nor sees it, outside their districts). Audited with the districts, never the words."""
    if r.status == ReportStatus.VERIFIED:
        raise Conflict("already verified")
    if r.claimed_by_id != staff.id:
        raise Forbidden("only the officer who owns this report can hand it over")
    if to_district == r.district:
        raise Invalid("invalid fields", errors={"district": ["is the report's district already"]})
    moved = ReportHandOver(report_id=r.id, from_staff_id=staff.id, from_district=r.district, to_district=to_district,
                           receiver_name=receiver_name, receiver_contact=receiver_contact, note=note or None)
    session.add(moved)
    r.district, r.status, r.claimed_by_id, r.claimed_at = to_district, ReportStatus.PENDING, None, None
    session.flush()
    audit.by_staff(session, staff, "arrival_report.handed_over", r.person_id, report_id=r.id,
                   from_district=moved.from_district, to_district=to_district)
    return moved


def timeline(session, r: ArrivalReport) -> list[dict]:
    """What happened to a report: filed, each hand-over (who gave it, to whom, how to reach
    them), verified."""
    events = [{"at": r.created_at.isoformat(), "kind": "filed", "district": r.district}]
    for h, giver in session.execute(select(ReportHandOver, Staff.name).outerjoin(Staff, Staff.id == ReportHandOver.from_staff_id)
                                    .where(ReportHandOver.report_id == r.id).order_by(ReportHandOver.id)):
        events.append({"at": h.at.isoformat(), "kind": "handed_over", "by": giver, "from_district": h.from_district,
                       "to_district": h.to_district, "receiver_name": h.receiver_name,
                       "receiver_contact": h.receiver_contact, "note": h.note})
    if r.verified_at is not None:
        events.append({"at": r.verified_at.isoformat(), "kind": "verified"})
    events[0]["district"] = events[1]["from_district"] if len(events) > 1 and events[1]["kind"] == "handed_over" \
        else r.district
    return events
