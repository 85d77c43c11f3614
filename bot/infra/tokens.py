"""Signed tokens in links.

- The view token (the code page link sent in chat): the person's public id and link version,
  7 days, itsdangerous. Never the row id: a link dies when the person is purged, and raising
  the link version (a reset in chat, an unbinding) revokes every link given out before.
- The scan token (inside the QR): bound to the person and the code version, short-lived
  (CODE_TOKEN_TTL). It must stay short, because every character grows the QR: 12 bytes of
  claims (person, version, issue minute) and a 12-byte truncated HMAC-SHA256, 32 characters in
  base64url. A 96-bit tag cannot be guessed by anyone scanning codes.

A scan token's issue time is the start of its minute (SCAN_PERIOD), so one image serves a whole
minute and can be cached; the token is valid for CODE_TOKEN_TTL from that instant.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.infra import texts

VIEW_TTL = 7 * 86400
SCAN_PERIOD = 60
FUTURE_SKEW = 120  # a token issued this far in the future is not ours (or the clock is broken)
_CLAIMS = struct.Struct(">III")  # person id, code version, issue minute
_TAG = 12


def _viewer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="code-view")


def view_token(secret: bytes, public_id: str, link_version: int) -> str:
    return _viewer(secret).dumps([public_id, link_version])


def read_view_token(secret: bytes, token: str) -> tuple[str, int] | None:
    """(public id, link version) a view token names, or None (altered, expired, or not a token).
    The caller checks both against the person."""
    try:
        claim = _viewer(secret).loads(token, max_age=VIEW_TTL)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if (isinstance(claim, list) and len(claim) == 2 and isinstance(claim[0], str)
            and isinstance(claim[1], int) and not isinstance(claim[1], bool)):
        return claim[0], claim[1]
    return None


def paper_token(secret: bytes, public_id: str, link_version: int, paper_id: int) -> str:
    """The printable paper code's link: like a view token, and naming the paper code issued."""
    return URLSafeTimedSerializer(secret, salt="paper-code").dumps([public_id, link_version, paper_id])


def read_paper_token(secret: bytes, token: str, max_age: int) -> tuple[str, int, int] | None:
    try:
        claim = URLSafeTimedSerializer(secret, salt="paper-code").loads(token, max_age=max_age)
    except BadSignature:
        return None
    if (isinstance(claim, list) and len(claim) == 3 and isinstance(claim[0], str)
            and all(isinstance(x, int) and not isinstance(x, bool) for x in claim[1:])):
        return claim[0], claim[1], claim[2]
    return None


def code_link(settings, person, lang: str | None = None) -> str:
    """The code page of `person` (anything with public_id and link_version: a Person, a row), in
    `lang` (the language in hand by default: an English account's links open English pages)."""
    token = view_token(settings.secret_key, person.public_id, person.link_version)
    return in_language(f"{settings.public_base_url}/codes/{token}", lang)


def in_language(url: str, lang: str | None = None) -> str:
    """A citizen page's link in `lang` (the language in hand by default): ?lang= unless Chinese."""
    lang = lang or texts.language.get()
    return url if lang == texts.SOURCE_LANGUAGE else f"{url}?lang={lang}"


def _scan_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"healthcode scan token", hashlib.sha256).digest()


def scan_period(now: float) -> int:
    """The minute a token made at `now` belongs to (its issue instant is period * SCAN_PERIOD)."""
    return int(now // SCAN_PERIOD)


def scan_token(secret: bytes, person_id: int, version: int, period: int) -> str:
    claims = _CLAIMS.pack(person_id, version, period)
    tag = hmac.new(_scan_key(secret), claims, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(claims + tag).decode().rstrip("=")


@dataclass(frozen=True)
class ScanClaim:
    verdict: str            # valid / expired / invalid (a valid token may still name an old version)
    person_id: int | None = None
    version: int | None = None
    issued: float | None = None


def read_scan_token(secret: bytes, token: str, ttl: int, now: float) -> ScanClaim:
    """Check a scan token's signature and age. The caller compares the version with the
    person's current code: an older version scans as expired."""
    token = (token or "").strip()
    if len(token) != 32 or not token.isascii():
        return ScanClaim("invalid")
    try:
        raw = base64.urlsafe_b64decode(token + "====")
    except (binascii.Error, ValueError):
        return ScanClaim("invalid")
    if len(raw) != _CLAIMS.size + _TAG:
        return ScanClaim("invalid")
    claims, tag = raw[:_CLAIMS.size], raw[_CLAIMS.size:]
    if not hmac.compare_digest(tag, hmac.new(_scan_key(secret), claims, hashlib.sha256).digest()[:_TAG]):
        return ScanClaim("invalid")
    person_id, version, period = _CLAIMS.unpack(claims)
    issued = period * SCAN_PERIOD
    if issued > now + FUTURE_SKEW:
        return ScanClaim("invalid")
    verdict = "valid" if now <= issued + ttl else "expired"
    return ScanClaim(verdict, person_id, version, issued)


def token_from_scan(text: str) -> str:
    """A scanner may send the scan token or the whole URL the QR holds."""
    text = (text or "").strip()
    if "/v/" in text:
        text = text.rsplit("/v/", 1)[1]
    return text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
