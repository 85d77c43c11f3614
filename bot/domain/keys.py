"""The signing keys of the offline-verifiable QR claims: which one signs, which are published.

The newest key not retired signs (one is made the first time none exists). `rotate` makes a new
one and retires the old for signing; the old one still verifies, and stays published, until
every claim it signed has expired (KEEP_VERIFYING after its retirement: longer than the longest
claim, a paper code). Private keys are sealed with the PII key (SigningKey.private_key).

The web processes and workers read the keys often (every code image is signed), so they are
kept for KEY_CACHE seconds per database; a rotation reaches every process within that time.
"""
from __future__ import annotations

import base64
import datetime as dt
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import or_, select

from bot.domain.models import SigningKey
from bot.infra import signing
from bot.infra.db import utcnow

KEEP_VERIFYING = dt.timedelta(days=8)   # paper codes last 7 days (PAPER_CODE_DAYS), and a day's margin
KEY_CACHE = 30.0

_cache: dict[int, tuple[float, tuple[str, Ed25519PrivateKey], dict[str, Ed25519PublicKey]]] = {}
_lock = threading.Lock()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key(session) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    row = SigningKey(kid=signing.key_id(private.public_key()), public_key=_b64(signing.raw_public(private.public_key())),
                     private_key=_b64(raw), created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def signer_row(session) -> SigningKey:
    """The key that signs now (made the first time there is none)."""
    row = session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None))
                         .order_by(SigningKey.created_at.desc(), SigningKey.id.desc()).limit(1))
    return row if row is not None else new_key(session)


def rotate(session, now: dt.datetime | None = None) -> tuple[SigningKey, list[SigningKey]]:
    """A new signing key; the keys signing until now are retired (they verify for KEEP_VERIFYING)."""
    now = now or utcnow()
    old = list(session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))))
    for row in old:
        row.retired_at, row.verify_until = now, now + KEEP_VERIFYING
    new = new_key(session)
    _cache.clear()
    return new, old


def published(session, now: dt.datetime | None = None) -> list[SigningKey]:
    now = now or utcnow()
    return list(session.scalars(select(SigningKey).where(or_(SigningKey.verify_until.is_(None),
                                                             SigningKey.verify_until > now))
                                .order_by(SigningKey.created_at, SigningKey.id)))


def jwks(session, now: dt.datetime | None = None) -> dict:
    """The published keys as a JSON Web Key Set (RFC 8037: kty OKP, crv Ed25519), each with the
    time it began (nbf) and, once retired, until when its claims are trusted (exp)."""
    keys = []
    for row in published(session, now):
        key = {"kty": "OKP", "crv": "Ed25519", "x": row.public_key, "kid": row.kid, "use": "sig", "alg": "EdDSA",
               "nbf": int(row.created_at.timestamp())}
        if row.verify_until is not None:
            key["exp"] = int(row.verify_until.timestamp())
        keys.append(key)
    return {"keys": keys}


def public_keys_of(jwks_doc: dict) -> dict[str, Ed25519PublicKey]:
    """kid -> key from a JWKS document (what an offline verifier holds)."""
    return {k["kid"]: Ed25519PublicKey.from_public_bytes(_unb64(k["x"]))
            for k in jwks_doc.get("keys", []) if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"}


def keyring(db) -> tuple[tuple[str, Ed25519PrivateKey], dict[str, Ed25519PublicKey]]:
    """(the signing kid and key, the published keys), read at most every KEY_CACHE seconds."""
    hit = _cache.get(id(db))
    if hit is not None and time.monotonic() - hit[0] < KEY_CACHE:
        return hit[1], hit[2]
    with _lock:
        with db.session() as s:
            row = signer_row(s)
            signer = (row.kid, Ed25519PrivateKey.from_private_bytes(_unb64(row.private_key)))
            public = {r.kid: Ed25519PublicKey.from_public_bytes(_unb64(r.public_key)) for r in published(s)}
        _cache[id(db)] = (time.monotonic(), signer, public)
    return signer, public
