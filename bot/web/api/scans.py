"""POST /api/v1/scans (scanner): a venue checks a code; the scan is recorded (time, venue,
masked name, colour), as the seeds require of venue checks."""
from __future__ import annotations

from marshmallow import fields, validate

from bot.infra import db
from bot.web.api import ApiSchema, services, staff, staff_route
from bot.web.code_pages import check_scan
from bot.domain.models import Scan


class ScanIn(ApiSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=512),
                          metadata={"description": "the scan token, or the whole URL the QR holds"})
    venue = fields.String(required=True, validate=validate.Length(min=1, max=128))


class ScanOut(ApiSchema):
    verdict = fields.String(metadata={"enum": ["valid", "expired", "invalid"]})
    colour = fields.String(allow_none=True)
    masked_name = fields.String(allow_none=True)
    scanned_at = fields.String()
    scan_id = fields.Integer()


@staff_route("/scans", roles=("scanner",), methods=("POST",), body=ScanIn, response=ScanOut)
def scans(data):
    """Check a code at a venue and record the scan."""
    session = db.session()
    result = check_scan(session, services().settings, data["token"])
    scan = Scan(venue=data["venue"].strip(), staff_id=staff().id, person_id=result["person_id"],
                code_version=result["version"], colour=result["colour"], verdict=result["verdict"],
                masked_name=result["masked_name"])
    session.add(scan)
    session.commit()
    return {"verdict": result["verdict"], "colour": result["colour"], "masked_name": result["masked_name"],
            "scanned_at": scan.at.isoformat(), "scan_id": scan.id}
