"""Console pages for community staff and reviewers: arrival reports (一键直报; an unmatched origin
is classified when verifying), positive tests awaiting a case status, the audited look-up."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from bot.chat.conversation.text import CONTROL
from bot.domain import alerts as alert_rules
from bot.domain import arrivals as arrival_rules
from bot.domain import people as people_rules
from bot.domain.vocab import AlertStatus, ReportStatus
from bot.domain.errors import DomainError, Invalid, NotFound
from bot.domain.models import CASE_STATUSES, ORIGIN_CLASSES
from bot.domain.staff import districts
from bot.web import db
from bot.infra.db import utcnow
from bot.infra.texts import say
from bot.web.console.base import bp, page, services
from bot.web.console.forms import id_from_form


@bp.get("/arrivals")
@page("arrivals")
def arrivals():
    status = request.args.get("status", ReportStatus.PENDING)
    if status not in (*ReportStatus, "all"):
        status = ReportStatus.PENDING
    return render_template("console/arrivals.html", reports=arrival_rules.queue(db.session(), g.staff, status),
                           status=status)


def _report(s, report_id: int):
    """The report, if it is in this officer's districts (404 otherwise, as for a missing one)."""
    try:
        return arrival_rules.report_by_id(s, g.staff, report_id)
    except DomainError:
        abort(404)


@bp.route("/arrivals/<int:report_id>", methods=("GET", "POST"))
@page("arrivals")
def arrival(report_id):
    s = db.session()
    r = _report(s, report_id)
    if request.method == "POST":
        try:
            cls = request.form.get("origin_class") or None
            arrival_rules.verify_report(s, services().policy, g.staff, r,
                                        CONTROL.sub("", (request.form.get("note") or "").strip())[:500],
                                        cls if cls in ORIGIN_CLASSES else None)
            s.commit()
            flash(say("console.verified"))
            return redirect(url_for("console.arrivals"))
        except DomainError as exc:
            s.rollback()
            flash(say("console.classify_origin") if isinstance(exc, Invalid) else say("console.report_taken"), "error")
    info = arrival_rules.open_report(s, g.staff, r)
    s.commit()
    return render_template("console/arrival.html", r=info)


@bp.post("/arrivals/<int:report_id>/handover")
@page("arrivals")
def arrival_handover(report_id):
    """首问负责制: hand the report to another district, with the receiving officer's name and phone."""
    s = db.session()
    r = _report(s, report_id)
    form = {k: CONTROL.sub("", (request.form.get(k) or "").strip()) for k in ("district", "name", "contact", "note")}
    if not (form["district"].isdigit() and 6 <= len(form["district"]) <= 12 and 2 <= len(form["name"]) <= 30
            and 5 <= len(form["contact"]) <= 20):
        flash(say("console.handover_fields"), "error")
        return redirect(url_for("console.arrival", report_id=report_id))
    try:
        arrival_rules.hand_over(s, g.staff, r, form["district"], form["name"], form["contact"], form["note"][:200])
        s.commit()
        flash(say("console.handed_over_report", district=form["district"]))
        return redirect(url_for("console.arrivals"))
    except DomainError as exc:
        s.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.arrival", report_id=report_id))


@bp.route("/alerts", methods=("GET", "POST"))
@page("alerts")
def alerts():
    """Positive tests: set a case status, or void the result with a reason (bot.domain.alerts)."""
    s = db.session()
    if request.method == "POST":
        try:
            alert = alert_rules.alert_by_id(s, g.staff, request.form.get("alert_id", type=int) or 0)
        except DomainError:
            abort(404)
        case_status = request.form.get("case_status") or None
        reason = CONTROL.sub("", (request.form.get("reason") or "").strip())[:500]
        if case_status not in CASE_STATUSES and not (request.form.get("void") and len(reason) >= 2):
            flash(say("console.alert_choice"), "error")
        else:
            try:
                alert_rules.resolve(s, services().policy, alert, g.staff,
                                    case_status=case_status if case_status in CASE_STATUSES else None,
                                    void_reason=reason, now=utcnow())
                s.commit()
                flash(say("console.alert_resolved"))
            except DomainError:
                s.rollback()
                flash(say("console.alert_taken"), "error")
        return redirect(url_for("console.alerts"))
    status = request.args.get("status", AlertStatus.OPEN)
    if status not in alert_rules.STATUSES:
        status = AlertStatus.OPEN
    return render_template("console/alerts.html", alerts=alert_rules.listing(s, status, districts(g.staff)),
                           status=status)


@bp.route("/people", methods=("GET", "POST"))
@page("people")
def people():
    found, error = None, None
    if request.method == "POST":
        document = id_from_form(request.form)
        s = db.session()
        if document is None:
            error = say("console.id_needed")
        else:
            try:
                person = people_rules.look_up(s, services().vault, g.staff, *document, via="console")
                record = people_rules.record(s, person)
                found = {"person": person, "code": record["code"], "history": record["history"]}
            except NotFound:  # nobody, or somebody outside the officer's districts: alike
                error = say("console.not_found")
            s.commit()
    return render_template("console/people.html", found=found, error=error)
