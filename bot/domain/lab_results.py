"""Test results from labs: each row's person found by ID number, a result sent twice stored once,
positives raising an alert for staff, and everyone concerned re-evaluated (so colour changes are
pushed) in the caller's transaction."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, tuple_

from bot.domain import audit
from bot.domain.alerts import raise_for as raise_alerts
from bot.domain.codes import reevaluate
from bot.domain.models import Code, TestResult
from bot.domain.people import find_person
from bot.domain.reevaluation import reevaluate_batch


def store_results(session, policy, vault, staff, rows: list[tuple[int, dict]]) -> dict:
    """rows: (row number, validated result) pairs. Returns the counts and the rows refused here."""
    errors, good = [], []
    for i, data in rows:
        person = find_person(session, vault, data["id_type"], data["id_number"])
        if person is None:
            errors.append({"row": i, "errors": {"id_number": ["no registered person with this number"]}})
            continue
        good.append((person.id, data))
    utc = dt.timezone.utc
    keys = [(pid, d["sampled_at"].astimezone(utc), d["lab"]) for pid, d in good]
    existing = set()
    if keys:
        existing = set(session.execute(select(TestResult.person_id, TestResult.sampled_at, TestResult.lab).where(
            tuple_(TestResult.person_id, TestResult.sampled_at, TestResult.lab).in_(keys))).all())
    duplicates, people, seen, added = 0, set(), set(), []
    for key, (pid, d) in zip(keys, good):
        if key in existing or key in seen:
            duplicates += 1  # a batch sent twice stores each result once
            continue
        seen.add(key)
        added.append(TestResult(person_id=pid, sampled_at=d["sampled_at"], result=d["result"], lab=d["lab"]))
        people.add(pid)
    session.add_all(added)
    session.flush()
    alerts = raise_alerts(session, added)  # positives wait for staff (and are red meanwhile)
    changes = 0
    if people:
        with_code = set(session.scalars(select(Code.person_id).where(Code.person_id.in_(people))))
        if with_code:
            _, changed = reevaluate_batch(session, policy, sorted(with_code), cause="lab_result")
            changes += len(changed)
        for pid in sorted(people - with_code):
            _, change = reevaluate(session, policy, pid, cause="lab_result")
            changes += change is not None
        for pid in sorted(people):
            audit.by_staff(session, staff, "test_result.stored", pid)
    return {"stored": len(added), "duplicates": duplicates, "people_reevaluated": len(people),
            "colour_changes": changes, "alerts": alerts, "errors": errors}
