"""The staff console (/console): server-rendered pages over the same rules as the staff API.

Sign-in takes a staff token. The session cookie (signed, HttpOnly, SameSite=Lax) keeps only
the token's SHA-256, and every request checks it against the staff table, so a disabled
account is out at once. Forms carry a per-session CSRF token. Reads of personal data are
audited as in the API (opening an appeal or a report, looking someone up).
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
from functools import wraps

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from bot.domain import appeals as appeal_rules
from bot.infra import db
from bot.web.api import CONTROL
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import ORIGIN_CLASSES, Appeal, ArrivalReport, Staff
from bot.domain.staff import hash_token
from bot.infra.texts import say

bp = Blueprint("console", __name__, url_prefix="/console")

PAGES = {  # what each role sees in the navigation (and may open)
    "reviewer": ("appeals", "alerts", "people"),
    "community": ("arrivals", "alerts", "people"),
    "admin": ("stats", "areas", "audit"),
    "lab": (),
    "scanner": (),
}


def _staff() -> Staff | None:
    digest = session.get("staff")
    if not digest:
        return None
    staff = db.session().scalar(select(Staff).where(Staff.token_hash == digest))
    return staff if staff is not None and staff.disabled_at is None else None


def page(name: str):
    """A console page for the roles whose navigation lists it."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            staff = _staff()
            if staff is None:
                return redirect(url_for("console.login", next=request.path))
            if name not in PAGES.get(staff.role, ()):
                abort(403)
            g.staff = staff
            if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
                abort(400, "the form expired; reload the page")
            return view(*args, **kwargs)
        return guarded
    return decorate


@bp.context_processor
def _globals():
    staff = getattr(g, "staff", None)
    return {"nav": [(p, say("console.title", page=p)) for p in PAGES.get(staff.role, ())] if staff else [], "me": staff,
            "csrf": session.get("csrf", ""), "local": _local}


def _local(value, fmt="%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime(fmt)


# -- sign in ---------------------------------------------------------------------------------------

@bp.route("/login", methods=("GET", "POST"))
def login():
    error = None
    if request.method == "POST":
        token = (request.form.get("token") or "").strip()
        staff = db.session().scalar(select(Staff).where(Staff.token_hash == hash_token(token))) if token else None
        if staff is None or staff.disabled_at is not None:
            error = say("console.invalid_token")
        else:
            session.clear()
            session["staff"] = staff.token_hash
            session["csrf"] = secrets.token_urlsafe(24)
            staff.last_used_at = utcnow()
            db.session().commit()
            target = request.args.get("next") or ""
            if not target.startswith("/console") or target.startswith("//"):
                first = PAGES.get(staff.role, ())
                target = url_for(f"console.{first[0]}") if first else url_for("console.login")
            return redirect(target)
    return render_template("console/login.html", error=error), 200 if error is None else 401


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("")
@bp.get("/")
def home():
    staff = _staff()
    if staff is None:
        return redirect(url_for("console.login"))
    first = PAGES.get(staff.role, ())
    if not first:
        return render_template("console/message.html", message=say("console.api_only_role")), 403
    return redirect(url_for(f"console.{first[0]}"))


# -- appeals ---------------------------------------------------------------------------------------

@bp.get("/appeals")
@page("appeals")
def appeals():
    from bot.web.api.appeals import queue

    status = request.args.get("status", "open")
    if status not in ("open", "overdue", "decided", "all"):
        status = "open"
    return render_template("console/appeals.html", appeals=queue(db.session(), status), status=status,
                           now=utcnow().isoformat())


def _appeal_or_404(s, number: str) -> Appeal:
    a = s.scalar(select(Appeal).where(Appeal.number == number))
    if a is None:
        abort(404)
    return a


@bp.get("/appeals/<number>")
@page("appeals")
def appeal(number):
    """Opening an undecided appeal claims it for the first reviewer (首问负责制)."""
    from bot.web.api.appeals import detail

    s = db.session()
    a = _appeal_or_404(s, number)
    note = None
    if a.status == "open":
        try:
            appeal_rules.claim(s, a, g.staff.id)
        except appeal_rules.AppealError as exc:
            note = str(exc)
    info = detail(s, a)
    s.commit()
    return render_template("console/appeal.html", a=info, mine=a.claimed_by_id == g.staff.id, note=note)


@bp.get("/appeals/<number>/evidence/<int:evidence_id>")
@page("appeals")
def evidence(number, evidence_id):
    from bot.web.api import ApiError
    from bot.web.api.appeals import read_evidence

    s = db.session()
    try:
        data, ctype = read_evidence(s, _appeal_or_404(s, number), evidence_id, via="console")
    except ApiError:
        abort(404)
    s.commit()
    return Response(data, mimetype=ctype, headers={"Cache-Control": "private, no-store"})


@bp.post("/appeals/<number>/decision")
@page("appeals")
def decide(number):
    s = db.session()
    a = _appeal_or_404(s, number)
    form = request.form
    outcome, reply = form.get("outcome"), (form.get("reply") or "").strip()
    void = [f for f in form.getlist("void") if f]
    colour = form.get("colour") or None
    problems, until = [], None
    if outcome not in ("corrected", "upheld"):
        problems.append(say("console.choose_outcome"))
    if outcome == "corrected":
        if not void and colour not in ("green", "yellow", "red"):
            problems.append(say("console.correction_needed"))
        if void and colour:
            problems.append(say("console.void_or_designate"))
        try:
            until = _local_instant(form.get("until"))
        except ValueError:
            problems.append(say("console.until_invalid"))
        if until is not None and until <= utcnow():
            problems.append(say("console.until_invalid"))
    if not 2 <= len(reply) <= 500:
        problems.append(say("console.reply_length"))
    if CONTROL.search(reply):
        problems.append(say("console.reply_control"))
    if not problems:
        designation = {"colour": colour, "until": until} if outcome == "corrected" and colour and not void else None
        try:
            appeal_rules.decide(s, current_app.extensions["services"], a, g.staff.id, outcome, reply,
                                void=void if outcome == "corrected" else [], designation=designation)
            s.commit()
            flash(say("console.decided", number=number))
            return redirect(url_for("console.appeals"))
        except appeal_rules.AppealError as exc:
            s.rollback()
            problems.append(str(exc))
    for p in problems:
        flash(p, "error")
    return redirect(url_for("console.appeal", number=number))


def _local_instant(text: str | None) -> dt.datetime | None:
    """A datetime-local form value (Asia/Shanghai) as an aware instant; None when empty."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# -- arrival reports -------------------------------------------------------------------------------

@bp.get("/arrivals")
@page("arrivals")
def arrivals():
    from bot.web.api.arrivals import queue

    status = request.args.get("status", "pending")
    if status not in ("pending", "claimed", "verified", "all"):
        status = "pending"
    return render_template("console/arrivals.html", reports=queue(db.session(), status), status=status)


@bp.route("/arrivals/<int:report_id>", methods=("GET", "POST"))
@page("arrivals")
def arrival(report_id):
    from bot.web.api import ApiError, in_scope
    from bot.web.api.arrivals import open_report, verify_report

    s = db.session()
    r = s.get(ArrivalReport, report_id)
    if r is None or not in_scope(r.district):
        abort(404)
    if request.method == "POST":
        try:
            cls = request.form.get("origin_class") or None
            verify_report(s, r, CONTROL.sub("", (request.form.get("note") or "").strip())[:500],
                          cls if cls in ORIGIN_CLASSES else None)
            s.commit()
            flash(say("console.verified"))
            return redirect(url_for("console.arrivals"))
        except ApiError as exc:
            s.rollback()
            flash(say("console.classify_origin") if exc.status == 400 else say("console.report_taken"), "error")
    info = open_report(s, r)
    s.commit()
    return render_template("console/arrival.html", r=info)


# -- positive tests awaiting staff ---------------------------------------------------------------

@bp.route("/alerts", methods=("GET", "POST"))
@page("alerts")
def alerts():
    """Positive tests: set a case status, or void the result with a reason (bot.domain.alerts)."""
    from bot.domain import alerts as alert_rules
    from bot.web.api import in_scope
    from bot.domain.models import CASE_STATUSES, Alert

    s = db.session()
    if request.method == "POST":
        alert = s.get(Alert, request.form.get("alert_id", type=int) or 0)
        case_status = request.form.get("case_status") or None
        reason = CONTROL.sub("", (request.form.get("reason") or "").strip())[:500]
        if alert is None or not in_scope(alert.district):
            abort(404)
        if case_status not in CASE_STATUSES and not (request.form.get("void") and len(reason) >= 2):
            flash(say("console.alert_choice"), "error")
        else:
            try:
                alert_rules.resolve(s, current_app.extensions["services"].policy, alert, g.staff,
                                    case_status=case_status if case_status in CASE_STATUSES else None,
                                    void_reason=reason, now=utcnow())
                s.commit()
                flash(say("console.alert_resolved"))
            except alert_rules.AlertError:
                s.rollback()
                flash(say("console.alert_taken"), "error")
        return redirect(url_for("console.alerts"))
    status = request.args.get("status", "open")
    if status not in alert_rules.STATUSES:
        status = "open"
    scope = list(g.staff.scope or []) if g.staff.role == "community" else None
    return render_template("console/alerts.html", alerts=alert_rules.listing(s, status, scope), status=status)


# -- people ----------------------------------------------------------------------------------------

@bp.route("/people", methods=("GET", "POST"))
@page("people")
def people():
    from bot.web.api import ApiError
    from bot.web.api.people import code_dict, history, look_up
    from bot.domain.models import Code

    found, error = None, None
    if request.method == "POST":
        number = (request.form.get("id_number") or "").strip()
        id_type = request.form.get("id_type") or "id_card"
        s = db.session()
        if not 5 <= len(number) <= 32 or id_type not in ("id_card", "passport", "permit") or CONTROL.search(number):
            error = say("console.id_needed")
        else:
            try:
                person = look_up(s, id_type, number, via="console")
                found = {"person": person, "code": code_dict(s.get(Code, person.id)), "history": history(s, person.id)}
            except ApiError as exc:
                error = say("console.not_found") if exc.status == 404 else say("console.out_of_district")
            s.commit()
    return render_template("console/people.html", found=found, error=error)


# -- admin: stats, risk areas, audit -----------------------------------------------------------------

@bp.get("/stats")
@page("stats")
def stats():
    from bot.web.api.admin import stats as numbers

    s = db.session()
    data = numbers(s)
    s.commit()
    return render_template("console/stats.html", d=data, chart=_chart(data["by_day"]))


def _chart(days: list[dict], width: int = 720, height: int = 220) -> dict:
    """Polylines of codes by colour per day (server-drawn SVG: no front-end build)."""
    if not days:
        return {"lines": [], "width": width, "height": height, "labels": []}
    top = max(max(d[c] for c in ("green", "yellow", "red")) for d in days) or 1
    step = width / max(len(days) - 1, 1)

    def points(colour):
        return " ".join(f"{i * step:.1f},{height - d[colour] / top * (height - 10):.1f}" for i, d in enumerate(days))

    return {"width": width, "height": height, "top": top,
            "lines": [(c, points(c)) for c in ("green", "yellow", "red")],
            "labels": [(i * step, d["day"][5:]) for i, d in enumerate(days)]}


@bp.route("/areas", methods=("GET", "POST"))
@page("areas")
def areas():
    """Upload a CSV: a preview first (how many people it affects), then replace on confirm."""
    from bot.web.api import risk_areas as api_areas

    s = db.session()
    preview, errors, csv_text = None, None, ""
    if request.method == "POST":
        upload = request.files.get("file")
        csv_text = upload.read().decode("utf-8-sig", "replace") if upload and upload.filename else \
            request.form.get("csv_text", "")
        confirm = request.form.get("confirm") == "1"
        try:
            result = api_areas.apply_areas(s, api_areas.parse_csv(csv_text), dry_run=not confirm)
        except api_areas.ApiError as exc:
            result, errors = None, exc.extra.get("errors") or {"_": [exc.message]}
        if result is not None and confirm:
            s.commit()
            flash(say("console.areas_replaced", **result))
            return redirect(url_for("console.areas"))
        preview = result
    current = [{"code": a.code, "name": a.name, "level": a.level, "since": a.since.isoformat()}
               for a in s.scalars(select(api_areas.RiskArea).order_by(api_areas.RiskArea.code))]
    return render_template("console/areas.html", areas=current, preview=preview, errors=errors, csv_text=csv_text)


@bp.get("/audit", endpoint="audit")
@page("audit")
def audit_page():
    from bot.web.api.admin import audit_rows

    action = (request.args.get("action") or "").strip()[:64]
    rows = audit_rows(db.session(), {"action": action or None, "limit": 200})
    return render_template("console/audit.html", rows=rows, action=action)
