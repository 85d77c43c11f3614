"""The 一键直报 queue for community staff, within their districts: the first officer to open a
report owns it until it is verified."""
from __future__ import annotations

from marshmallow import fields, validate

from bot.domain import arrivals
from bot.domain.vocab import ReportStatus
from bot.domain.arrivals import CLASSES
from bot.web import db
from bot.web.api.base import ApiSchema, services, staff, staff_route


class QueueQuery(ApiSchema):
    status = fields.String(load_default=ReportStatus.PENDING, validate=validate.OneOf((*ReportStatus, "all")))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class VerifyIn(ApiSchema):
    note = fields.String(load_default="", validate=validate.Length(max=500))
    origin_class = fields.String(validate=validate.OneOf(CLASSES), metadata={
        "description": "the origin's risk class as verified; required when the origin matched no risk area "
                       "(origin_class \"unknown\"); classifying re-runs the rules"})


@staff_route("/arrival-reports", roles=("community",), query=QueueQuery)
def list_reports(args):
    """The arrival-report queue of your districts."""
    return {"reports": arrivals.queue(db.session(), staff(), args["status"], args["limit"])}


@staff_route("/arrival-reports/<int:report_id>", roles=("community",))
def get_report(report_id):
    """A report in full (audited); the first officer to open it owns it."""
    session = db.session()
    out = arrivals.open_report(session, staff(), arrivals.report_by_id(session, staff(), report_id))
    session.commit()
    return out


@staff_route("/arrival-reports/<int:report_id>/verify", roles=("community",), methods=("POST",), body=VerifyIn)
def verify(report_id, data):
    """Mark a report verified (the officer who owns it; an unopened one is taken now)."""
    session = db.session()
    r = arrivals.report_by_id(session, staff(), report_id)
    arrivals.verify_report(session, services().policy, staff(), r, data["note"], data.get("origin_class"))
    session.commit()
    return {"id": r.id, "status": "verified"}


class HandOverIn(ApiSchema):
    district = fields.String(required=True, validate=validate.Regexp(r"^\d{6,12}$"),
                             metadata={"description": "the receiving district's division code"})
    receiver_name = fields.String(required=True, validate=validate.Length(min=2, max=30))
    receiver_contact = fields.String(required=True, validate=validate.Regexp(r"^[\d\-+ ]{5,20}$"),
                                     metadata={"description": "the receiving officer's phone"})
    note = fields.String(load_default="", validate=validate.Length(max=200))


@staff_route("/arrival-reports/<int:report_id>/handover", roles=("community",), methods=("POST",), body=HandOverIn)
def handover(report_id, data):
    """首问负责制: hand the report you own to another district, with the receiving officer's name and phone."""
    session = db.session()
    r = arrivals.report_by_id(session, staff(), report_id)
    arrivals.hand_over(session, staff(), r, data["district"], data["receiver_name"], data["receiver_contact"],
                       data["note"])
    session.commit()
    return {"id": r.id, "status": r.status, "district": r.district}
