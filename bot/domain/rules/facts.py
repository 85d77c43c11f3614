"""The facts document (rules.md): its public JSON form, validated, and its parsed form.

Parsed facts are plain dicts with date / aware datetime values; absent keys mean nothing known.
`travel` and `overseas` (the document's `overseas_arrival`) are lists sorted by arrival: every
trip counts. Any fact may carry `recorded_at`, the instant the system learnt it (absent: before
any designation); a designation carries `made_at`.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from bot.infra.db import SHANGHAI
from bot.domain.rules.predicates import CASE_STATUSES, MEASURE_KINDS
from bot.domain.vocab import OriginClass

# `unknown`: an arrival report whose origin matched no risk area, until staff classify it (read as low)
ORIGIN_CLASSES = tuple(OriginClass)
COLOURS = ("red", "yellow", "green")  # by severity

FACT_PATHS = {
    "case", "case.status", "case.since", "case.released_on", "case.recorded_at",
    "measures", "symptoms", "symptoms.present", "symptoms.declared_at", "unexplained_fever",
    "overseas", "overseas.arrival", "overseas.reported_on", "overseas_arrival",
    "travel", "travel.origin_class", "travel.arrival", "travel.reported_on",
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


def recorded():
    return Instant(load_default=None, allow_none=True)


class CaseSchema(Strict):
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    since = fields.Date(load_default=None)
    released_on = fields.Date(load_default=None, allow_none=True)
    recorded_at = recorded()


class MeasureSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(MEASURE_KINDS))
    start = fields.Date(required=True)
    end = fields.Date(load_default=None, allow_none=True)
    ended_on = fields.Date(load_default=None, allow_none=True)
    recorded_at = recorded()

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("end") and data["end"] < data["start"]:
            raise ValidationError("end is before start", "end")


class SymptomsSchema(Strict):
    present = fields.Boolean(required=True)
    declared_at = Instant(required=True)
    recorded_at = recorded()


class TravelSchema(Strict):
    origin_class = fields.String(required=True, validate=validate.OneOf(ORIGIN_CLASSES))
    arrival = fields.Date(required=True)
    reported_on = fields.Date(load_default=None, allow_none=True)
    recorded_at = recorded()


class OverseasSchema(Strict):
    arrival = fields.Date(required=True)
    reported_on = fields.Date(load_default=None, allow_none=True)
    recorded_at = recorded()


class TestSchema(Strict):
    sampled_at = Instant(required=True)
    result = fields.String(required=True, validate=validate.OneOf(("negative", "positive")))
    recorded_at = recorded()


class DesignationSchema(Strict):
    colour = fields.String(required=True, validate=validate.OneOf(COLOURS))
    reason = fields.String(load_default="")
    until = Instant(load_default=None, allow_none=True)
    made_at = recorded()


class OneOrMany(fields.Field):
    """A list of objects, or one object (the first version's form), or (overseas) a bare date."""

    def __init__(self, schema: type[Schema], bare: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.schema, self.bare = schema(), bare

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None:
            return []
        if isinstance(value, list):
            items, errors = [], {}
            for i, v in enumerate(value):
                try:
                    items.append(self._one(v))
                except ValidationError as err:
                    errors[i] = err.messages
            if errors:
                raise ValidationError(errors)
            return sorted(items, key=lambda item: item["arrival"])
        return [self._one(value)]

    def _one(self, value):
        if self.bare and isinstance(value, str):
            try:
                return self.schema.load({self.bare: value})
            except ValidationError as err:  # the bare form's error names no inner field
                raise ValidationError(err.messages[self.bare]) from None
        if not isinstance(value, dict):
            raise ValidationError("an object, or a list of them, is expected")
        return self.schema.load(value)


class FactsSchema(Strict):
    now = Instant(load_default=None)
    case = fields.Nested(CaseSchema, load_default=None, allow_none=True)
    measures = fields.List(fields.Nested(MeasureSchema), load_default=list)
    symptoms = fields.Nested(SymptomsSchema, load_default=None, allow_none=True)
    unexplained_fever = fields.Boolean(load_default=False)
    overseas_arrival = OneOrMany(OverseasSchema, bare="arrival", load_default=list, allow_none=True)
    travel = OneOrMany(TravelSchema, load_default=list, allow_none=True)
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
    data["overseas"] = data.pop("overseas_arrival") or []
    return {k: v for k, v in data.items() if v not in (None, [], False)}, now
