"""GET / PUT /api/v1/risk-areas (admin): the risk-area table. PUT replaces it from JSON or CSV
(`code,name,level,since`); the people the change can affect are re-evaluated in the background.
`?dry_run=1` answers what would change (the console's preview) and changes nothing."""
from __future__ import annotations

import csv
import io

from flask import request
from marshmallow import ValidationError, fields, validate
from sqlalchemy import delete, select

from bot.infra import db
from bot.web.api import ApiError, ApiSchema, audit_staff, services, staff_route
from bot.infra.db import utcnow
from bot.domain.models import RiskArea
from bot.domain.reevaluation import affected_people, start_run

LEVELS = ("high", "medium", "low")
MAX_AREAS = 20_000


class AreaIn(ApiSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6,12}$", error="must be a 6-12 digit region code"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    since = fields.Date(required=True)


class AreasIn(ApiSchema):
    areas = fields.List(fields.Nested(AreaIn), required=True, validate=validate.Length(max=MAX_AREAS))


class PutQuery(ApiSchema):
    dry_run = fields.Boolean(load_default=False)


class AreasOut(ApiSchema):
    areas = fields.List(fields.Nested(AreaIn))


def parse_csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name", "level", "since"} - set(reader.fieldnames or [])
    if missing:
        raise ApiError(400, "invalid CSV", errors={"_header": [f"missing columns: {', '.join(sorted(missing))}"]})
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _rows() -> list[dict]:
    ctype = (request.mimetype or "").lower()
    if ctype in ("text/csv", "application/csv", "text/plain"):
        return parse_csv(request.get_data(as_text=True))
    raw = request.get_json(silent=True)
    if isinstance(raw, list):
        raw = {"areas": raw}
    if not isinstance(raw, dict):
        raise ApiError(400, "the body must be JSON ({\"areas\": [...]}) or CSV", errors={"_body": ["unreadable"]})
    return raw.get("areas") if isinstance(raw.get("areas"), list) else raw


@staff_route("/risk-areas", roles=("admin",), response=AreasOut)
def list_areas():
    """The current risk-area table."""
    session = db.session()
    return {"areas": [{"code": a.code, "name": a.name, "level": a.level, "since": a.since.isoformat()}
                      for a in session.scalars(select(RiskArea).order_by(RiskArea.code))]}


@staff_route("/risk-areas", roles=("admin",), methods=("PUT",), query=PutQuery,
             documented_body={"application/json": AreasIn,
                              "text/csv": {"type": "string", "description": "code,name,level,since"}})
def replace_areas(args):
    """Replace the table (JSON or CSV); re-evaluates the people the change can affect."""
    session = db.session()
    out = apply_areas(session, _rows(), dry_run=args["dry_run"])
    if not args["dry_run"]:
        session.commit()
    return out


def apply_areas(session, rows, dry_run: bool) -> dict:
    """Validate and, unless dry_run, replace the table and start the re-evaluation run (the
    caller commits). ApiError(400) names the rows and fields at fault."""
    try:
        areas = AreasIn().load({"areas": rows})["areas"]
    except ValidationError as exc:
        raise ApiError(400, "invalid fields", errors=exc.messages) from None
    codes = [a["code"] for a in areas]
    if len(set(codes)) != len(codes):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        raise ApiError(400, "invalid fields", errors={"areas": [f"duplicate codes: {', '.join(dupes[:10])}"]})
    old = {a.code: (a.name, a.level, a.since) for a in session.scalars(select(RiskArea))}
    new = {a["code"]: (a["name"], a["level"], a["since"]) for a in areas}
    changed = sorted(c for c in set(old) | set(new)
                     if old.get(c, (None, None, None))[1:] != new.get(c, (None, None, None))[1:])
    affected = affected_people(session, changed, utcnow()) if changed else []
    summary = {"areas": len(new), "added": len(set(new) - set(old)), "removed": len(set(old) - set(new)),
               "changed": len(changed), "people_affected": len(affected)}
    if dry_run:
        return {**summary, "dry_run": True}
    session.execute(delete(RiskArea))
    session.add_all(RiskArea(code=c, name=n, level=lvl, since=since) for c, (n, lvl, since) in sorted(new.items()))
    run = start_run(session, "risk_areas", services().policy.name, area_codes=changed) if changed else None
    audit_staff(session, "risk_areas.replace", None, **summary)
    return {**summary, "dry_run": False, "run_id": run.id if run else None}
