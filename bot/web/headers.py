"""Headers for the pages people open in a browser (the console, the code pages): no framing
(clickjacking), no sniffing, no referrer (code page URLs carry tokens), and a Content Security
Policy that runs only the page's own inline scripts (a nonce per response), so injected markup
cannot run script."""
from __future__ import annotations

import secrets

from flask import g

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
