"""POST /api/v1/scans (scanner): a venue checks a code; the scan is recorded (time, venue,
masked name, colour), as the seeds require of venue checks. POST /api/v1/lookups (scanner,
counter): 代查, the code of someone without a phone by ID number, limited per staff member
(LOOKUP_RATE_LIMIT)."""
from __future__ import annotations

from marshmallow import fields, validate

from bot.domain.code_views import look_up_for, record_scan
from bot.domain.models import ID_TYPES
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


class LookupIn(ApiSchema):
    id_type = fields.String(load_default="id_card", validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, validate=validate.Length(min=5, max=32))
    venue = fields.String(required=True, validate=validate.Length(min=1, max=128))


class LookupOut(ApiSchema):
    colour = fields.String(metadata={"enum": ["green", "yellow", "red"]})
    masked_name = fields.String()
    looked_up_at = fields.String()
    scan_id = fields.Integer()


@staff_route("/lookups", roles=("scanner", "counter"), methods=("POST",), body=LookupIn, response=LookupOut)
def lookups(data):
    """代查: the colour and masked name of a person without a phone, by ID number (audited, recorded, limited)."""
    session = db.session()
    try:
        out = look_up_for(session, services().vault, staff(), data["id_type"], data["id_number"], data["venue"])
    finally:
        session.commit()  # the audit row, found or not
    return out
