"""Positive tests waiting for staff (rules revision 2): a lab upload that brings a positive result
turns the code red (rules Z0 / HP / YP), pushes, and raises an alert here. Reviewers see every
alert, community staff those of their districts. Staff resolve it by setting a case status (the
case rules decide from then on) or by voiding the result (a false positive): either way the
person is re-evaluated at once.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.domain import audit
from bot.domain.errors import Conflict, NotFound
from bot.domain.staff import require_scope
from bot.domain.codes import reevaluate
from bot.infra.db import SHANGHAI
from bot.domain.fact_records import void
from bot.infra.masking import mask_id_number, mask_name
from bot.domain.models import Alert, CaseStatus, Code, Person, Staff, TestResult
from bot.domain.vocab import AlertStatus

STATUSES = (*AlertStatus, "all")


def alert_by_id(session: Session, staff, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    require_scope(staff, alert.district)
    return alert


def raise_for(session: Session, results: list[TestResult]) -> int:
    """One alert per positive result (the person's district scopes it); returns how many."""
    positives = [r for r in results if r.result == "positive"]
    if not positives:
        return 0
    districts = dict(session.execute(select(Person.id, Person.district).where(
        Person.id.in_({r.person_id for r in positives}))).all())
    for r in positives:
        session.add(Alert(person_id=r.person_id, test_result_id=r.id, kind="positive_test",
                          district=districts.get(r.person_id), status=AlertStatus.OPEN))
    session.flush()
    return len(positives)


def listing(session: Session, status: str = AlertStatus.OPEN, districts: list[str] | None = None, limit: int = 100) -> list[dict]:
    """Alerts, oldest first; `districts`: only those (community staff), None: all (reviewers)."""
    q = select(Alert, Person, TestResult, Code.colour, Staff.name).join(Person, Person.id == Alert.person_id) \
        .outerjoin(TestResult, TestResult.id == Alert.test_result_id).outerjoin(Code, Code.person_id == Alert.person_id) \
        .outerjoin(Staff, Staff.id == Alert.resolved_by_id)
    if status != "all":
        q = q.where(Alert.status == status)
    if districts is not None:
        if not districts:
            return []
        q = q.where(or_(*[Alert.district.like(f"{code}%") for code in districts]))
    rows = session.execute(q.order_by(Alert.created_at, Alert.id).limit(limit)).all()
    return [item(a, p, t, colour, resolver) for a, p, t, colour, resolver in rows]


def item(a: Alert, p: Person, t: TestResult | None, colour: str | None, resolver: str | None) -> dict:
    return {"id": a.id, "kind": a.kind, "status": a.status, "person_id": p.id, "subject_masked": mask_name(p.name),
            "id_masked": mask_id_number(p.id_number), "district": a.district, "colour": colour,
            "sampled_at": t.sampled_at.isoformat() if t else None, "lab": t.lab if t else None,
            "test_voided": t is not None and t.voided_at is not None, "created_at": a.created_at.isoformat(),
            "resolution": a.resolution, "resolved_by": resolver,
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None}


def resolve(session: Session, policy, alert: Alert, staff: Staff, *, case_status: str | None = None,
            since: dt.date | None = None, void_reason: str | None = None, now: dt.datetime) -> dict:
    """Set a case status, or void the result; then re-evaluate. Conflict when resolved already."""
    if alert.status != AlertStatus.OPEN:
        raise Conflict("the alert is resolved already")
    test = session.get(TestResult, alert.test_result_id) if alert.test_result_id else None
    if case_status:
        sampled = (test.sampled_at if test else now).astimezone(SHANGHAI).date()
        session.add(CaseStatus(person_id=alert.person_id, status=case_status, since=since or sampled,
                               staff_id=staff.id, recorded_at=now))
        resolution = f"case:{case_status}"
    else:
        if test is not None and test.voided_at is None:
            void(session, alert.person_id, [f"test:{test.id}"], staff_id=staff.id, reason=void_reason or "",
                 now=now)
        resolution = "voided"
    done = session.execute(update(Alert).where(Alert.id == alert.id, Alert.status == AlertStatus.OPEN).values(
        status=AlertStatus.RESOLVED, resolution=resolution, resolved_by_id=staff.id, resolved_at=now)).rowcount
    if done != 1:
        raise Conflict("the alert is resolved already")
    session.flush()
    decision, _ = reevaluate(session, policy, alert.person_id, cause="staff", now=now)
    audit.record(session, "alert.resolved", actor_kind="staff", actor_id=staff.id, subject_person_id=alert.person_id,
                 alert_id=alert.id, resolution=resolution)
    return {"id": alert.id, "status": AlertStatus.RESOLVED, "resolution": resolution, "colour": decision.colour,
            "rule": decision.rule}


def resolve_by_case(session: Session, person_id: int, case_status: str, staff_id: int | None,
                    now: dt.datetime) -> int:
    """A case status set elsewhere (the measures route) resolves the person's open alerts too."""
    return session.execute(update(Alert).where(Alert.person_id == person_id, Alert.status == AlertStatus.OPEN).values(
        status=AlertStatus.RESOLVED, resolution=f"case:{case_status}", resolved_by_id=staff_id, resolved_at=now)).rowcount


def resolve_by_void(session: Session, test_ids: list[int], staff_id: int | None, now: dt.datetime) -> int:
    """Voided results (an appeal) resolve their alerts."""
    if not test_ids:
        return 0
    return session.execute(update(Alert).where(Alert.test_result_id.in_(test_ids), Alert.status == AlertStatus.OPEN).values(
        status=AlertStatus.RESOLVED, resolution="voided", resolved_by_id=staff_id, resolved_at=now)).rowcount
