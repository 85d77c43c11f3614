"""Personal data at rest: AES-256-GCM with a key id, and keyed hashes for look-ups.

A stored value reads `<kid>.<base64url(nonce | ciphertext+tag)>`. The key id is derived from
the key itself, so rotating (new PII_KEY, the old one moved to PII_OLD_KEYS) keeps every old
value readable while new writes use the new key. The column name is bound in as associated
data, so a ciphertext copied into another column does not decrypt.

Look-ups (ID numbers) go through HMAC-SHA256 of the normalised value with a key derived from
PII_KEY: equal numbers give equal digests, and the digest reveals nothing without the key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptError(Exception):
    pass


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"healthcode-kid" + key).hexdigest()[:8]


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Vault:
    def __init__(self, key: bytes, old_keys: tuple[bytes, ...] = ()):
        self.kid = key_id(key)
        self._aead = {key_id(k): AESGCM(k) for k in (*old_keys, key)}
        self._current = self._aead[self.kid]
        self._hash_key = hmac.new(key, b"healthcode-lookup-v1", hashlib.sha256).digest()

    def encrypt(self, plain: str | None, context: str = "") -> str | None:
        if plain is None:
            return None
        nonce = os.urandom(12)
        sealed = self._current.encrypt(nonce, plain.encode("utf-8"), context.encode())
        return f"{self.kid}.{_b64e(nonce + sealed)}"

    def decrypt(self, stored: str | None, context: str = "") -> str | None:
        if stored is None:
            return None
        kid, _, body = stored.partition(".")
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptError(f"no key with id {kid} (set PII_OLD_KEYS to read values written with it)")
        raw = _b64d(body)
        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode("utf-8")
        except InvalidTag:
            raise DecryptError("personal data failed authentication (wrong key or altered value)") from None

    def seal(self, data: bytes, context: str = "") -> bytes:
        """Bytes (evidence images) sealed like text values: key id, nonce, AES-GCM."""
        nonce = os.urandom(12)
        return f"{self.kid}.".encode() + nonce + self._current.encrypt(nonce, data, context.encode())

    def unseal(self, stored: bytes, context: str = "") -> bytes:
        kid, _, raw = stored.partition(b".")
        aead = self._aead.get(kid.decode("ascii", "replace"))
        if aead is None:
            raise DecryptError(f"no key with id {kid!r} (set PII_OLD_KEYS to read values written with it)")
        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise DecryptError("sealed data failed authentication (wrong key or altered value)") from None

    def needs_rotation(self, stored: str | None) -> bool:
        return stored is not None and not stored.startswith(self.kid + ".")

    def lookup_hash(self, kind: str, normalised: str) -> str:
        """Keyed hash for equality look-ups; kind keeps an ID card and a passport apart."""
        return hmac.new(self._hash_key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def normalise_id_number(number: str) -> str:
    """Upper-case, no spaces or separators, full-width folded: the form that is hashed and stored."""
    folded = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in number)
    return "".join(ch for ch in folded.upper() if ch.isalnum())
