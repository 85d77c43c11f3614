"""The staff console (/console): server-rendered pages over the same domain functions as the
staff API (bot.domain), never over the API's views. This module: the blueprint, sign-in, the
role pages and the CSRF check; the pages are the other modules of this package.

Sign-in takes a staff token. The session cookie (signed, HttpOnly, SameSite=Lax) keeps the
token's SHA-256, the staff member's session nonce and when it began; every request checks them
against the staff table, so a disabled account, a new token or a sign-out (a new nonce, which
ends every session of that person, a copied cookie included) is out at once, and a session
ends after CONSOLE_SESSION_HOURS. Every form carries the session's CSRF token, sign-in and
sign-out included. Reads of personal data are audited as in the API (opening an appeal or a
report, looking someone up).
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time
from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from bot.domain.models import Staff
from bot.domain.staff import end_sessions, hash_token
from bot.web import db
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.texts import say
from bot.web.headers import protect

bp = Blueprint("console", __name__, url_prefix="/console")
protect(bp)

PAGES = {  # what each role sees in the navigation (and may open)
    "reviewer": ("appeals", "alerts", "people"),
    "community": ("arrivals", "alerts", "people"),
    "admin": ("stats", "appeals", "areas", "audit"),
    "lab": (),
    "scanner": ("lookups",),
    "counter": ("counter", "lookups"),
    "hotline": ("hotline",),
}


def signed_in() -> Staff | None:
    """The staff member this console session belongs to, if it stands."""
    digest, nonce, since = session.get("staff"), session.get("nonce"), session.get("since")
    if not (digest and nonce and isinstance(since, (int, float))):
        return None
    if time.time() - since > current_app.extensions["services"].settings.console_session_hours * 3600:
        return None
    staff = db.session().scalar(select(Staff).where(Staff.token_hash == digest))
    if staff is None or staff.disabled_at is not None or not staff.session_nonce:
        return None
    return staff if hmac.compare_digest(staff.session_nonce, nonce) else None


def _csrf_ok() -> bool:
    return hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "") or "\0")


def page(name: str):
    """A console page for the roles whose navigation lists it."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            staff = signed_in()
            if staff is None:
                return redirect(url_for("console.login", next=request.path))
            if name not in PAGES.get(staff.role, ()):
                abort(403)
            g.staff = staff
            if request.method == "POST" and not _csrf_ok():
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
        if not _csrf_ok():  # a sign-in form from another site cannot sign anyone in
            abort(400, "the form expired; reload the page")
        token = (request.form.get("token") or "").strip()
        staff = db.session().scalar(select(Staff).where(Staff.token_hash == hash_token(token))) if token else None
        if staff is None or staff.disabled_at is not None:
            error = say("console.invalid_token")
        else:
            nonce = staff.session_nonce or end_sessions(staff)
            session.clear()
            session.update(staff=staff.token_hash, nonce=nonce, since=int(time.time()),
                           csrf=secrets.token_urlsafe(24))
            staff.last_used_at = utcnow()
            db.session().commit()
            target = request.args.get("next") or ""
            if not target.startswith("/console") or target.startswith("//"):
                first = PAGES.get(staff.role, ())
                target = url_for(f"console.{first[0]}") if first else url_for("console.login")
            return redirect(target)
    session.setdefault("csrf", secrets.token_urlsafe(24))  # the sign-in form's, before any sign-in
    return render_template("console/login.html", error=error), 200 if error is None else 401


@bp.post("/logout")
def logout():
    """Ends every console session of this staff member (a copied cookie too)."""
    if not _csrf_ok():
        abort(400, "the form expired; reload the page")
    staff = signed_in()
    if staff is not None:
        end_sessions(staff)
        db.session().commit()
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("")
@bp.get("/")
def home():
    staff = signed_in()
    if staff is None:
        return redirect(url_for("console.login"))
    first = PAGES.get(staff.role, ())
    if not first:
        return render_template("console/message.html", message=say("console.api_only_role")), 403
    return redirect(url_for(f"console.{first[0]}"))


def services():
    return current_app.extensions["services"]


def local_instant(text: str | None) -> dt.datetime | None:
    """A datetime-local form value (Asia/Shanghai) as an aware instant; None when empty."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
