"""For admins: the audit log (filterable, read-only) and the stats."""
from __future__ import annotations

from marshmallow import fields, validate

from bot.domain.stats import audit_rows, stats
from bot.web import db
from bot.infra.db import SHANGHAI
from bot.web.api.base import MAX_ID, ApiSchema, staff_route


class AuditQuery(ApiSchema):
    action = fields.String(validate=validate.Length(max=64))
    actor_kind = fields.String(validate=validate.OneOf(("staff", "citizen", "system")))
    actor_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    person_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    since = fields.AwareDateTime(default_timezone=SHANGHAI)
    until = fields.AwareDateTime(default_timezone=SHANGHAI)
    before_id = fields.Integer(validate=validate.Range(1, MAX_ID), metadata={"description": "page: rows older than this id"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


@staff_route("/audit", roles=("admin",), query=AuditQuery)
def audit_log(args):
    """The audit log, newest first (action accepts * as a wildcard)."""
    return {"rows": audit_rows(db.session(), args)}


@staff_route("/stats", roles=("admin",))
def get_stats():
    """People by colour, appeals by status and overdue, pushes by outcome, colours by day."""
    session = db.session()
    out = stats(session)
    session.commit()
    return out
