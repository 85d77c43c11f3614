"""Signed code claims that any checkpoint verifies offline with the published keys (issue 17).

Like the EU Digital COVID Certificate, a public-key signature (Ed25519, through `cryptography`)
over a compact claim; unlike it, a tight binary layout rather than CBOR/COSE (no new
dependency, and 30 bytes shorter), text-encoded in base32 so the QR holds it in alphanumeric
mode inside a URL (base45, the DCC's choice, has a space and `%`, which a URL cannot carry):

    offset  size  field
    0       1     format (1)
    1       4     key id (the first 4 bytes of SHA-256 of the raw public key)
    5       16    the person's public id (people.public_id, 128 random bits)
    21      1     colour (0 green, 1 yellow, 2 red)
    22      4     code version
    26      4     valid from (Unix seconds)
    30      4     valid until (Unix seconds)
    34      1     n, the length of the masked name in UTF-8
    35      n     the masked name (张* is 4 bytes)
    35+n    64    Ed25519 signature over everything before it

A claim of 104 bytes is 167 base32 characters; with `PUBLIC_BASE_URL/v/` in front the QR is
version 8 at error correction M (base64url would need version 9). Nothing here reads the
database: verification needs only the text and the published keys.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = 1
COLOURS = ("green", "yellow", "red")
_HEAD = struct.Struct(">B4s16sBIIIB")
SIGNATURE = 64
MAX_NAME = 60


@dataclass(frozen=True)
class Claim:
    public_id: str          # base64url, as people.public_id
    colour: str
    version: int
    valid_from: int         # Unix seconds
    valid_until: int
    name_masked: str
    kid: str = ""           # set when signed or read


@dataclass(frozen=True)
class Verdict:
    verdict: str            # valid / expired / not_yet_valid / bad_signature / unknown_key / invalid
    claim: Claim | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return _b64(hashlib.sha256(raw_public(public)).digest()[:4])


def encode(claim: Claim, private: Ed25519PrivateKey) -> str:
    """The signed claim as QR text (base32, no padding)."""
    name = claim.name_masked.encode("utf-8")[:MAX_NAME]
    head = _HEAD.pack(FORMAT, _unb64(key_id(private.public_key())), _unb64(claim.public_id),
                      COLOURS.index(claim.colour), claim.version, claim.valid_from, claim.valid_until, len(name))
    body = head + name
    return base64.b32encode(body + private.sign(body)).decode().rstrip("=")


def decode(text: str) -> tuple[bytes, bytes, Claim] | None:
    """(signed bytes, signature, claim) of a text, or None when it is not one of ours."""
    text = (text or "").strip().upper()
    if not text or len(text) > 400 or not text.isalnum():
        return None
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _HEAD.size + SIGNATURE:
        return None
    fmt, kid, pid, colour, version, start, until, n = _HEAD.unpack_from(raw)
    if fmt != FORMAT or colour >= len(COLOURS) or len(raw) != _HEAD.size + n + SIGNATURE:
        return None
    body, signature = raw[:_HEAD.size + n], raw[_HEAD.size + n:]
    try:
        name = body[_HEAD.size:].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return body, signature, Claim(_b64(pid), COLOURS[colour], version, start, until, name, _b64(kid))


def verify(text: str, keys: dict[str, Ed25519PublicKey], now: float) -> Verdict:
    """The verdict on a claim's text against the published keys (kid -> public key)."""
    found = decode(text)
    if found is None:
        return Verdict("invalid")
    body, signature, claim = found
    key = keys.get(claim.kid)
    if key is None:
        return Verdict("unknown_key", claim)
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return Verdict("bad_signature", claim)
    if now < claim.valid_from:
        return Verdict("not_yet_valid", claim)
    if now > claim.valid_until:
        return Verdict("expired", claim)
    return Verdict("valid", claim)
