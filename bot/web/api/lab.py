"""POST /api/v1/test-results (lab): a batch of results; each row is checked on its own, the
good ones are stored and their people re-evaluated (so colour changes are pushed)."""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select, tuple_

from bot.infra import db
from bot.domain.alerts import raise_for as raise_alerts
from bot.web.api import ApiError, ApiSchema, audit_staff, services, staff_route
from bot.domain.codes import reevaluate
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.idcard import IdProblem, check_number
from bot.domain.models import ID_TYPES, Code, TestResult
from bot.domain.people import find_person
from bot.domain.reevaluation import reevaluate_batch

MAX_ROWS = 5000


class ResultIn(ApiSchema):
    id_type = fields.String(load_default="id_card", validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, validate=validate.Length(min=5, max=32))
    sampled_at = fields.AwareDateTime(required=True, default_timezone=SHANGHAI)
    result = fields.String(required=True, validate=validate.OneOf(("negative", "positive")))
    lab = fields.String(required=True, validate=validate.Length(min=1, max=128))

    @validates_schema
    def _number(self, data, **_):
        try:
            check_number(data.get("id_type", "id_card"), data.get("id_number", ""), utcnow().date())
        except IdProblem as exc:
            raise ValidationError(f"not a valid {data.get('id_type', 'id_card')} number ({exc})", "id_number") from None
        if "sampled_at" in data and data["sampled_at"] > utcnow() + dt.timedelta(minutes=10):
            raise ValidationError("is in the future", "sampled_at")


class BatchIn(ApiSchema):
    results = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=MAX_ROWS))


class BatchDoc(ApiSchema):
    """What the document shows (rows are checked one by one, so the batch takes any rows)."""
    results = fields.List(fields.Nested(ResultIn), required=True)


class BatchOut(ApiSchema):
    received = fields.Integer()
    stored = fields.Integer()
    duplicates = fields.Integer()
    people_reevaluated = fields.Integer()
    colour_changes = fields.Integer()
    alerts = fields.Integer(metadata={"description": "positive results now waiting for staff (GET /alerts)"})
    errors = fields.List(fields.Dict(), metadata={"description": "[{row, errors}] for rows not stored"})


@staff_route("/test-results", roles=("lab",), methods=("POST",), response=BatchOut,
             documented_body={"application/json": BatchDoc})
def test_results():
    """Upload a batch of test results (a JSON list, or {"results": [...]})."""
    from flask import request

    raw = request.get_json(silent=True)
    if isinstance(raw, list):
        raw = {"results": raw}
    if not isinstance(raw, dict):
        raise ApiError(400, "the body must be a JSON list of results or {\"results\": [...]}",
                       errors={"_body": ["not a list of results"]})
    try:
        rows = BatchIn().load(raw)["results"]
    except ValidationError as exc:
        raise ApiError(400, "invalid fields", errors=exc.messages) from None
    session = db.session()
    svc = services()
    errors, good = [], []
    schema = ResultIn()
    for i, row in enumerate(rows):
        try:
            data = schema.load(row)
        except ValidationError as exc:
            errors.append({"row": i, "errors": exc.messages})
            continue
        person = find_person(session, svc.vault, data["id_type"], data["id_number"])
        if person is None:
            errors.append({"row": i, "errors": {"id_number": ["no registered person with this number"]}})
            continue
        good.append((i, person.id, data))
    utc = dt.timezone.utc
    keys = [(pid, d["sampled_at"].astimezone(utc), d["lab"]) for _, pid, d in good]
    existing = set()
    if keys:
        existing = set(session.execute(select(TestResult.person_id, TestResult.sampled_at, TestResult.lab).where(
            tuple_(TestResult.person_id, TestResult.sampled_at, TestResult.lab).in_(keys))).all())
    duplicates, people = 0, set()
    seen, added = set(), []
    for key, (i, pid, d) in zip(keys, good):
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
            _, changed = reevaluate_batch(session, svc.policy, sorted(with_code), cause="lab_result")
            changes += len(changed)
        for pid in sorted(people - with_code):
            _, change = reevaluate(session, svc.policy, pid, cause="lab_result")
            changes += change is not None
        for pid in sorted(people):
            audit_staff(session, "test_result.stored", pid)
    session.commit()
    return {"received": len(rows), "stored": len(added), "duplicates": duplicates, "people_reevaluated": len(people),
            "colour_changes": changes, "alerts": alerts, "errors": errors}
