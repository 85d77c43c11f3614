"""What staff change about a person: measures (isolation, observation, monitoring) and case
statuses (community staff, in their districts), and designated colours (admins). Each change
re-evaluates the person in the caller's transaction, so a colour change is pushed."""
from __future__ import annotations

from sqlalchemy import select

from bot.domain import audit
from bot.domain.alerts import resolve_by_case
from bot.domain.codes import reevaluate
from bot.domain.errors import Conflict, Invalid
from bot.domain.models import CASE_STATUSES, CaseStatus, Designation, Measure
from bot.domain.people import person_by_id
from bot.domain.staff import require_scope
from bot.infra.db import SHANGHAI, utcnow


def change_measure(session, policy, staff, person_id: int, data: dict) -> dict:
    """data: action (start / extend / end), kind (a measure or a case status), start, end, on."""
    person = person_by_id(session, person_id)
    require_scope(staff, person.district)
    today = utcnow().astimezone(SHANGHAI).date()
    kind, action = data["kind"], data["action"]
    if kind in CASE_STATUSES:
        open_row = session.scalars(select(CaseStatus).where(CaseStatus.person_id == person_id, CaseStatus.status == kind,
                                                            CaseStatus.released_on.is_(None),
                                                            CaseStatus.voided_at.is_(None))
                                   .order_by(CaseStatus.id.desc())).first()
        if action == "start":
            session.add(CaseStatus(person_id=person_id, status=kind, since=data.get("start") or today,
                                   staff_id=staff.id, recorded_at=utcnow()))
            resolve_by_case(session, person_id, kind, staff.id, utcnow())  # a positive test's alert is answered
        elif open_row is None:
            raise Conflict(f"no open {kind} status to {action}")
        elif action == "end":
            open_row.released_on = data.get("on") or today
        else:
            raise Conflict("a case status has no end day to extend; end it when released")
    else:
        open_row = session.scalars(select(Measure).where(Measure.person_id == person_id, Measure.kind == kind,
                                                         Measure.ended_on.is_(None), Measure.voided_at.is_(None))
                                   .order_by(Measure.id.desc())).first()
        if action == "start":
            session.add(Measure(person_id=person_id, kind=kind, start=data.get("start") or today, end=data.get("end"),
                                source="staff", staff_id=staff.id))
        elif open_row is None:
            raise Conflict(f"no ongoing {kind} to {action}")
        elif action == "extend":
            if open_row.start and data["end"] < open_row.start:
                raise Invalid("invalid fields", errors={"end": ["is before the measure's start"]})
            open_row.end, open_row.recorded_at = data["end"], utcnow()
        else:
            open_row.ended_on = data.get("on") or today
    session.flush()
    decision, change = reevaluate(session, policy, person_id, cause="measure")
    audit.by_staff(session, staff, f"measure.{action}", person_id, kind=kind)
    return {"person_id": person_id, "colour": decision.colour, "rule": decision.rule, "changed": change is not None}


def designate(session, policy, staff, person_id: int, data: dict) -> dict:
    """Designate a colour (colour, reason, until), or lift the active designation (lift: true)."""
    person_by_id(session, person_id)
    now = utcnow()
    active = session.scalars(select(Designation).where(Designation.person_id == person_id,
                                                       Designation.lifted_at.is_(None))).all()
    for d in active:
        d.lifted_at = now
    if data.get("lift"):
        if not active:
            raise Conflict("no active designation to lift")
    else:
        session.add(Designation(person_id=person_id, colour=data["colour"], reason=data["reason"],
                                until=data.get("until"), staff_id=staff.id))
    session.flush()
    decision, change = reevaluate(session, policy, person_id, cause="staff")
    audit.by_staff(session, staff, "designation.lift" if data.get("lift") else "designation.set", person_id,
                   colour=data.get("colour"), until=data["until"].isoformat() if data.get("until") else None)
    return {"person_id": person_id, "colour": decision.colour, "rule": decision.rule, "changed": change is not None}
