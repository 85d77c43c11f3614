"""The facts document (rules.md): its public JSON form, validated, and its parsed form.

Parsed facts are plain dicts with date / aware datetime values; absent keys mean nothing known.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from bot.db import SHANGHAI
from bot.rules.expr import CASE_STATUSES, MEASURE_KINDS

ORIGIN_CLASSES = ("high", "medium", "risk_county", "case_city", "low")
COLOURS = ("red", "yellow", "green")

FACT_PATHS = {
    "case", "case.status", "case.since", "case.released_on",
    "measures", "symptoms", "symptoms.present", "symptoms.declared_at", "unexplained_fever",
    "overseas_arrival", "travel", "travel.origin_class", "travel.arrival", "travel.reported_on",
    "tests", "designation", "designation.colour", "designation.reason", "designation.until",
}


class FactsError(ValueError):
    pass


class Instant(fields.DateTime):
    """ISO 8601 instant; without an offset it is Asia/Shanghai time."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        return parsed.replace(tzinfo=SHANGHAI) if parsed.tzinfo is None else parsed


class Strict(Schema):
    class Meta:
        unknown = RAISE


class CaseSchema(Strict):
    status = fields.String(required=True, validate=validate.OneOf(sorted(CASE_STATUSES)))
    since = fields.Date(load_default=None)
    released_on = fields.Date(load_default=None, allow_none=True)


class MeasureSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(sorted(MEASURE_KINDS)))
    start = fields.Date(required=True)
    end = fields.Date(load_default=None, allow_none=True)
    ended_on = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("end") and data["end"] < data["start"]:
            raise ValidationError("end is before start", "end")


class SymptomsSchema(Strict):
    present = fields.Boolean(required=True)
    declared_at = Instant(required=True)


class TravelSchema(Strict):
    origin_class = fields.String(required=True, validate=validate.OneOf(ORIGIN_CLASSES))
    arrival = fields.Date(required=True)
    reported_on = fields.Date(load_default=None, allow_none=True)


class TestSchema(Strict):
    sampled_at = Instant(required=True)
    result = fields.String(required=True, validate=validate.OneOf(("negative", "positive")))


class DesignationSchema(Strict):
    colour = fields.String(required=True, validate=validate.OneOf(COLOURS))
    reason = fields.String(load_default="")
    until = Instant(load_default=None, allow_none=True)


class FactsSchema(Strict):
    now = Instant(load_default=None)
    case = fields.Nested(CaseSchema, load_default=None, allow_none=True)
    measures = fields.List(fields.Nested(MeasureSchema), load_default=list)
    symptoms = fields.Nested(SymptomsSchema, load_default=None, allow_none=True)
    unexplained_fever = fields.Boolean(load_default=False)
    overseas_arrival = fields.Date(load_default=None, allow_none=True)
    travel = fields.Nested(TravelSchema, load_default=None, allow_none=True)
    tests = fields.List(fields.Nested(TestSchema), load_default=list)
    designation = fields.Nested(DesignationSchema, load_default=None, allow_none=True)


_SCHEMA = FactsSchema()


def _first_error(messages, prefix="") -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(messages, list):
        return _first_error(messages[0], prefix) if messages and not isinstance(messages[0], str) else \
            f"{prefix}: {messages[0] if messages else 'invalid'}"
    return f"{prefix}: {messages}"


def parse_facts(document: dict) -> tuple[dict, dt.datetime | None]:
    """Validate a facts document; returns (facts, now or None). Raises FactsError with one line."""
    if not isinstance(document, dict):
        raise FactsError("facts: a JSON object is expected")
    try:
        data = _SCHEMA.load(document)
    except ValidationError as err:
        raise FactsError(_first_error(err.messages)) from None
    now = data.pop("now")
    return data, now
