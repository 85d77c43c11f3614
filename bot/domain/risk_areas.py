"""The risk-area table: read it, replace it (JSON rows or CSV `code,name,level,since`), and say
first whom a change would affect (the console's preview; nothing changes on a dry run)."""
from __future__ import annotations

import csv
import io

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import delete, select

from bot.domain import audit
from bot.domain.errors import Invalid
from bot.domain.models import RiskArea
from bot.domain.reevaluation import affected_people, start_run
from bot.infra.db import utcnow

LEVELS = ("high", "medium", "low")
MAX_AREAS = 20_000
PRINTABLE = validate.Regexp(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", error="must not contain control characters")


class AreaSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6,12}$", error="must be a 6-12 digit region code"))
    name = fields.String(required=True, validate=[validate.Length(min=1, max=128), PRINTABLE])
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    since = fields.Date(required=True)


class AreasSchema(Schema):
    areas = fields.List(fields.Nested(AreaSchema), required=True, validate=validate.Length(max=MAX_AREAS))


def table(session) -> list[dict]:
    return [{"code": a.code, "name": a.name, "level": a.level, "since": a.since.isoformat()}
            for a in session.scalars(select(RiskArea).order_by(RiskArea.code))]


def parse_csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name", "level", "since"} - set(reader.fieldnames or [])
    if missing:
        raise Invalid("invalid CSV", errors={"_header": [f"missing columns: {', '.join(sorted(missing))}"]})
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def apply_areas(session, policy_name: str, staff, rows, dry_run: bool) -> dict:
    """Validate and, unless dry_run, replace the table and start the re-evaluation run (the
    caller commits). Invalid names the rows and fields at fault."""
    try:
        areas = AreasSchema().load({"areas": rows})["areas"]
    except ValidationError as exc:
        raise Invalid("invalid fields", errors=exc.messages) from None
    codes = [a["code"] for a in areas]
    if len(set(codes)) != len(codes):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        raise Invalid("invalid fields", errors={"areas": [f"duplicate codes: {', '.join(dupes[:10])}"]})
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
    run = start_run(session, "risk_areas", policy_name, area_codes=changed) if changed else None
    audit.by_staff(session, staff, "risk_areas.replace", None, **summary)
    return {**summary, "dry_run": False, "run_id": run.id if run else None}
