"""The citizen's code page (亮码) and what a venue's camera opens.

GET /codes/<view-token>      phone-sized page: the current image, refreshed every minute
GET /codes/<view-token>.png  the image (its QR holds a fresh scan token)
GET /v/<scan-token>          colour, masked name, valid / expired / invalid

Scans with a record (venue, time) go through the staff API (POST /api/v1/scans); both share
bot.domain.code_views.check_scan().
"""
from __future__ import annotations

import datetime as dt
import json
import time

from flask import Blueprint, Response, current_app, g, make_response, render_template

from bot.domain.keys import keyring
from bot.domain.code_views import check_scan, in_language, load_view, page_facts, person_for_link
from bot.infra import texts, tokens
from bot.infra.texts import format_instant
from bot.web import db
from bot.infra.db import SHANGHAI
from bot.infra.images.code_image import FontMissing
from bot.web.headers import protect
from bot.web.languages import per_request

bp = Blueprint("codes", __name__)
protect(bp)
per_request(bp)  # 国际版: these pages speak the visitor's language


def _services():
    return current_app.extensions["services"]


def _person_or_404(view_token: str):
    person_id = person_for_link(db.session(), _services().settings.secret_key, view_token)
    if person_id is None:
        return None, (render_template("codes/gone.html"), 404)
    return person_id, None


@bp.get("/.well-known/healthcode-keys.json")
def published_keys():
    """The keys that verify signed codes (JWKS): what an offline checkpoint downloads."""
    from bot.domain.keys import jwks, signer_row

    s = db.session()
    signer_row(s)  # the first signing key, if this is the first look
    doc = jwks(s)
    s.commit()
    return Response(json.dumps(doc), mimetype="application/json",
                    headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})


@bp.get("/codes/<view_token>")
def page(view_token: str):
    person_id, gone = _person_or_404(view_token)
    if gone:
        return gone
    view = load_view(db.session(), person_id)
    policy = _services().policy
    if view is None:
        return render_template("codes/page.html", view=None, token=view_token,
                               title=policy.words(texts.language.get())["code_title"]), 200
    ttl_minutes = max(_services().settings.code_token_ttl // 60, 1)
    facts = page_facts(db.session(), person_id)
    # what this colour may do, how it turns green and why, in this region's words and the page's language
    words = in_language(policy, view.colour, facts.get("reason", ""), "", facts.get("wording"))
    return render_template("codes/page.html", view=view, token=view_token, period=tokens.scan_period(time.time()),
                           ttl_minutes=ttl_minutes, may=words["may"], to_green=words["to_green"],
                           title=words["code_title"],
                           facts=dict(facts, reason=words["reason"].splitlines()[0] if words["reason"] else ""),
                           now=dt.datetime.now(SHANGHAI))


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


@bp.get("/paper/<token>.pdf")
def paper_pdf(token: str):
    """The printable paper code (A6 PDF): its QR signed with the current key, valid from when it
    was issued for PAPER_CODE_DAYS; the link dies with a reset, an unbinding or a purge."""
    from bot.domain import paper
    from bot.infra import signing
    from bot.infra.images.paper import render_pdf
    from bot.infra.masking import id_tail, mask_name
    from bot.infra.texts import say

    services = _services()
    found = paper.by_link(db.session(), services.settings, token)
    if found is None:
        return Response("not found", 404, mimetype="text/plain")
    person, issued = found
    (_, private), _ = keyring(services.db)
    name = mask_name(person.name)
    claim = signing.Claim(person.public_id, issued.colour, issued.code_version, int(issued.issued_at.timestamp()),
                          int(issued.valid_until.timestamp()), name)
    lang = texts.language.get()
    try:
        font = services.code_images.font_for(lang)  # as the code image draws them
    except FontMissing:
        return Response("no CJK font on this server (FONT_PATH)", 503, mimetype="text/plain")
    pdf = render_pdf(title=services.policy.words(lang)["code_title"], colour_word=say("image.word", colour=issued.colour),
                     colour=issued.colour, name=say("image.name", name=name, tail=id_tail(person.id_number)),
                     url=f"{services.settings.public_base_url}/v/{signing.encode(claim, private)}",
                     valid_until=say("paper.valid_until", at=format_instant(issued.valid_until, "stamp")),
                     issued_at=say("paper.printed", at=format_instant(issued.issued_at, "stamp")),
                     note=say("paper.note"), font_path=font)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": 'inline; filename="healthcode.pdf"', "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff"})


@bp.get("/verify")
def verify_page():
    """A checkpoint's verifier that works offline once loaded: the keys are kept in the page's
    storage, the signature is checked in the browser (WebCrypto Ed25519); the camera through
    BarcodeDetector where the browser has it, else the pasted text of the QR."""
    response = make_response(render_template("codes/verify.html"))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{g.csp_nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return response


@bp.get("/v/<scan_token>")
def scanned(scan_token: str):
    result = check_scan(db.session(), _services().settings, scan_token, public_keys=keyring(_services().db)[1])
    status = 200 if result["verdict"] != "invalid" else 404
    checked = format_instant(dt.datetime.now(SHANGHAI), "clock")
    return render_template("codes/scan.html", r=result, checked=checked), status
