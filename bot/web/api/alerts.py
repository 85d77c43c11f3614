"""Positive tests waiting for staff: GET /api/v1/alerts and POST /api/v1/alerts/<id>/resolve
(reviewers everywhere, community staff in their districts); the domain is bot.domain.alerts."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from bot.domain import alerts as alert_rules
from bot.domain.models import CASE_STATUSES
from bot.domain.staff import districts
from bot.web import db
from bot.infra.db import utcnow
from bot.web.api.base import ApiSchema, services, staff, staff_route

ROLES = ("reviewer", "community")


class AlertQuery(ApiSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(alert_rules.STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class ResolveIn(ApiSchema):
    case_status = fields.String(validate=validate.OneOf(CASE_STATUSES),
                                metadata={"description": "the case status now set (the case rules decide)"})
    since = fields.Date(metadata={"description": "with case_status: its first day (default: the sampling day)"})
    void = fields.Boolean(load_default=False, metadata={"description": "void the result (a false positive)"})
    reason = fields.String(validate=validate.Length(min=2, max=500),
                           metadata={"description": "why the result is voided (required with void)"})

    @validates_schema
    def _one_way(self, data, **_):
        if bool(data.get("case_status")) == bool(data.get("void")):
            raise ValidationError("give either case_status or void: true", "case_status")
        if data.get("void") and not data.get("reason"):
            raise ValidationError("is required to void a result", "reason")


class AlertItem(ApiSchema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    person_id = fields.Integer()
    subject_masked = fields.String()
    id_masked = fields.String()
    district = fields.String(allow_none=True)
    colour = fields.String(allow_none=True)
    sampled_at = fields.String(allow_none=True)
    lab = fields.String(allow_none=True)
    test_voided = fields.Boolean()
    created_at = fields.String()
    resolution = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)


class AlertsOut(ApiSchema):
    alerts = fields.List(fields.Nested(AlertItem))


@staff_route("/alerts", roles=ROLES, query=AlertQuery, response=AlertsOut)
def list_alerts(args):
    """Positive tests awaiting a case status (community staff: their districts), oldest first."""
    return {"alerts": alert_rules.listing(db.session(), args["status"], districts(staff()), args["limit"])}


@staff_route("/alerts/<int:alert_id>/resolve", roles=ROLES, methods=("POST",), body=ResolveIn)
def resolve(alert_id, data):
    """Resolve an alert: set a case status, or void the result with a reason; the person is re-evaluated."""
    session = db.session()
    alert = alert_rules.alert_by_id(session, staff(), alert_id)
    out = alert_rules.resolve(session, services().policy, alert, staff(), case_status=data.get("case_status"),
                              since=data.get("since"), void_reason=data.get("reason"), now=utcnow())
    session.commit()
    return out
