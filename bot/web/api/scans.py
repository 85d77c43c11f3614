"""POST /api/v1/scans (scanner): a venue checks a code; the scan is recorded (time, venue,
masked name, colour), as the seeds require of venue checks."""
from __future__ import annotations

from marshmallow import fields, validate

from bot.domain.code_views import record_scan
from bot.domain.keys import keyring
from bot.web import db
from bot.web.api.base import ApiSchema, services, staff, staff_route


class ScanIn(ApiSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=512),
                          metadata={"description": "the scan token, or the whole URL the QR holds"})
    venue = fields.String(required=True, validate=validate.Length(min=1, max=128))


class ScanOut(ApiSchema):
    verdict = fields.String(metadata={"enum": ["valid", "expired", "outdated", "invalid"]})
    colour = fields.String(allow_none=True)
    masked_name = fields.String(allow_none=True)
    scanned_at = fields.String()
    scan_id = fields.Integer()


@staff_route("/scans", roles=("scanner",), methods=("POST",), body=ScanIn, response=ScanOut)
def scans(data):
    """Check a code at a venue and record the scan."""
    session = db.session()
    out = record_scan(session, services().settings, staff(), data["token"], data["venue"],
                      public_keys=keyring(services().db)[1])
    session.commit()
    return out
