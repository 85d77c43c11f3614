"""POST /api/v1/test-results (lab): a batch of results; each row is checked on its own, the
good ones are stored and their people re-evaluated (so colour changes are pushed): the storing
is bot.domain.lab_results."""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError, fields, validate, validates_schema

from bot.domain.idcard import IdProblem, check_number
from bot.domain.lab_results import store_results
from bot.domain.models import ID_TYPES
from bot.web import db
from bot.infra.db import SHANGHAI, utcnow
from bot.web.api.base import ApiError, ApiSchema, services, staff, staff_route

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
    errors, valid = [], []
    schema = ResultIn()
    for i, row in enumerate(rows):
        try:
            valid.append((i, schema.load(row)))
        except ValidationError as exc:
            errors.append({"row": i, "errors": exc.messages})
    session = db.session()
    svc = services()
    out = store_results(session, svc.policy, svc.vault, staff(), valid)
    session.commit()
    return {"received": len(rows), **out, "errors": sorted(errors + out["errors"], key=lambda e: e["row"])}
