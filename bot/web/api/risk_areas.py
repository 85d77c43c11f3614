"""GET / PUT /api/v1/risk-areas (admin): the risk-area table. PUT replaces it from JSON or CSV
(`code,name,level,since`); the people the change can affect are re-evaluated in the background.
`?dry_run=1` answers what would change (the console's preview) and changes nothing. The rules
of the table are bot.domain.risk_areas."""
from __future__ import annotations

from flask import request
from marshmallow import fields, validate

from bot.domain import risk_areas
from bot.web import db
from bot.web.api.base import ApiError, ApiSchema, services, staff, staff_route


class AreaIn(ApiSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6,12}$", error="must be a 6-12 digit region code"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    level = fields.String(required=True, validate=validate.OneOf(risk_areas.LEVELS))
    since = fields.Date(required=True)


class AreasIn(ApiSchema):
    areas = fields.List(fields.Nested(AreaIn), required=True, validate=validate.Length(max=risk_areas.MAX_AREAS))


class PutQuery(ApiSchema):
    dry_run = fields.Boolean(load_default=False)


class AreasOut(ApiSchema):
    areas = fields.List(fields.Nested(AreaIn))


def _rows() -> list[dict]:
    ctype = (request.mimetype or "").lower()
    if ctype in ("text/csv", "application/csv", "text/plain"):
        return risk_areas.parse_csv(request.get_data(as_text=True))
    raw = request.get_json(silent=True)
    if isinstance(raw, list):
        raw = {"areas": raw}
    if not isinstance(raw, dict):
        raise ApiError(400, "the body must be JSON ({\"areas\": [...]}) or CSV", errors={"_body": ["unreadable"]})
    return raw.get("areas") if isinstance(raw.get("areas"), list) else raw


@staff_route("/risk-areas", roles=("admin",), response=AreasOut)
def list_areas():
    """The current risk-area table."""
    return {"areas": risk_areas.table(db.session())}


@staff_route("/risk-areas", roles=("admin",), methods=("PUT",), query=PutQuery,
             documented_body={"application/json": AreasIn,
                              "text/csv": {"type": "string", "description": "code,name,level,since"}})
def replace_areas(args):
    """Replace the table (JSON or CSV); re-evaluates the people the change can affect."""
    session = db.session()
    out = risk_areas.apply_areas(session, services().policy.name, staff(), _rows(), dry_run=args["dry_run"])
    if not args["dry_run"]:
        session.commit()
    return out
