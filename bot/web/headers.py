"""Headers for the pages people open in a browser (the console, the code pages): no framing
(clickjacking), no sniffing, no referrer (code page URLs carry tokens), and a Content Security
Policy that runs only the page's own inline scripts (a nonce per response), so injected markup
cannot run script."""
from __future__ import annotations

import secrets

from flask import Response, g

from bot.infra.images.kinds import KINDS

PICTURE_TYPES = frozenset(KINDS.values())

CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def protect(bp) -> None:
    """Every response of this blueprint gets the headers; its templates get `csp_nonce`."""
    @bp.before_request
    def _nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @bp.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP.format(nonce=g.get("csp_nonce", "")))
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        return response

    @bp.context_processor
    def _template_nonce():
        return {"csp_nonce": g.get("csp_nonce", "")}


def evidence_response(data: bytes, content_type: str) -> Response:
    """An uploaded picture as a browser should take it: only as the picture type it was checked
    to be (anything else downloads as bytes), never sniffed, never run (no script, no styles,
    no fetches even if it were a document), not cached."""
    picture = content_type in PICTURE_TYPES
    return Response(data, mimetype=content_type if picture else "application/octet-stream", headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": "inline" if picture else "attachment"})
