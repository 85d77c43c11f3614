"""The citizen's code page (亮码) and what a venue's camera opens.

GET /codes/<view-token>      phone-sized page: the current image, refreshed every minute
GET /codes/<view-token>.png  the image (its QR holds a fresh scan token)
GET /v/<scan-token>          colour, masked name, valid / expired / invalid

Scans with a record (venue, time) go through the staff API (POST /api/v1/scans); both share
check_scan().
"""
from __future__ import annotations

import datetime as dt
import time

from flask import Blueprint, Response, current_app, render_template
from sqlalchemy import select

from bot.infra import db, tokens
from bot.infra.images.code_image import CodeView, FontMissing
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import mask_name
from bot.domain.models import Code, LimitedPass, Person

bp = Blueprint("codes", __name__)


def _services():
    return current_app.extensions["services"]


def load_view(session, person_id: int, now: dt.datetime | None = None) -> CodeView | None:
    """The person's current code as the image shows it; None without a code."""
    now = now or utcnow()
    row = session.execute(select(Code.version, Code.colour, Person.name).join(Person, Person.id == Code.person_id)
                          .where(Code.person_id == person_id)).first()
    if row is None:
        return None
    until = session.scalar(select(LimitedPass.ends_at).where(
        LimitedPass.person_id == person_id, LimitedPass.starts_at <= now, LimitedPass.ends_at > now)
        .order_by(LimitedPass.ends_at.desc()).limit(1))
    return CodeView(person_id, row.version, row.colour, mask_name(row.name), until)


INVALID = {"verdict": "invalid", "colour": None, "masked_name": None, "person_id": None, "version": None}


def check_scan(session, settings, token: str, now: float | None = None) -> dict:
    """The verdict on a scan token: valid only if signed, young enough, and of the current code
    version (a screenshot of an older code scans as expired)."""
    now = time.time() if now is None else now
    claim = tokens.read_scan_token(settings.secret_key, tokens.token_from_scan(token), settings.code_token_ttl, now)
    if claim.verdict == "invalid":
        return dict(INVALID)
    row = session.execute(select(Code.version, Code.colour, Person.name).join(Person, Person.id == Code.person_id)
                          .where(Code.person_id == claim.person_id)).first()
    if row is None:  # signed by us, but the person or code is gone (purged)
        return dict(INVALID)
    verdict = claim.verdict if row.version == claim.version else "expired"
    return {"verdict": verdict, "colour": row.colour if verdict == "valid" else None,
            "masked_name": mask_name(row.name), "person_id": claim.person_id, "version": claim.version}


def _person_or_404(view_token: str):
    person_id = tokens.read_view_token(_services().settings.secret_key, view_token)
    if person_id is None:
        return None, (render_template("codes/gone.html"), 404)
    return person_id, None


@bp.get("/codes/<view_token>")
def page(view_token: str):
    person_id, gone = _person_or_404(view_token)
    if gone:
        return gone
    view = load_view(db.session(), person_id)
    if view is None:
        return render_template("codes/page.html", view=None, token=view_token), 200
    ttl_minutes = max(_services().settings.code_token_ttl // 60, 1)
    wording = _services().policy.wording  # what this colour may do, and how it turns green, in this region's words
    return render_template("codes/page.html", view=view, token=view_token, period=tokens.scan_period(time.time()),
                           ttl_minutes=ttl_minutes, may=wording["may"][view.colour],
                           to_green=wording["to_green"].get(view.colour))


@bp.get("/codes/<view_token>.png")
def image(view_token: str):
    person_id, gone = _person_or_404(view_token)
    if gone:
        return Response("not found", 404, mimetype="text/plain")
    view = load_view(db.session(), person_id)
    if view is None:
        return Response("no code yet", 404, mimetype="text/plain")
    now = time.time()
    try:
        png = _services().code_images.png(view, now)
    except FontMissing as exc:
        current_app.logger.error("%s", exc)
        return Response("code images are not available", 503, mimetype="text/plain")
    left = int(tokens.SCAN_PERIOD - now % tokens.SCAN_PERIOD) + 1
    return Response(png, mimetype="image/png", headers={"Cache-Control": f"private, max-age={left}"})


@bp.get("/v/<scan_token>")
def scanned(scan_token: str):
    result = check_scan(db.session(), _services().settings, scan_token)
    status = 200 if result["verdict"] != "invalid" else 404
    checked = dt.datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    return render_template("codes/scan.html", r=result, checked=checked), status
