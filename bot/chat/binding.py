"""Binding a chat account to a person already registered elsewhere: the Redis side.

- Failed attempts per ID number (a wrong name, a wrong code): bot.infra.attempts locks that
  number for binding for an hour after 5 in an hour, whatever account tries.
- Staff confirmation: someone who cannot receive the code on the phone on file gets a short
  request code in chat; a staff member who has checked their document enters it with the ID
  number (bot.web.api.accounts). The request is sealed with the PII key, lives a day, and is
  used once.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from bot.infra import attempts

REQUEST_TTL = 86400
REQUEST_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


def _key(services, kind: str, value: str) -> str:
    digest = hmac.new(services.settings.secret_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"bind:{kind}:{digest}"


def locked(services, id_hash: str) -> bool:
    return attempts.locked(services, "bind", id_hash)


def failed(services, id_hash: str) -> bool:
    """Count a failed attempt; True when the number is now locked."""
    return attempts.failed(services, "bind", id_hash)


def request_staff(services, person_id: int, channel: str, app_id: str, user: str) -> str:
    """A request code for a staff member to confirm this account as this person."""
    code = "".join(secrets.choice(REQUEST_ALPHABET) for _ in range(8))
    sealed = services.vault.encrypt(json.dumps({"person_id": person_id, "channel": channel, "app_id": app_id,
                                                "user": user}), "bind.request")
    services.redis.client().set(_key(services, "request", code), sealed, ex=REQUEST_TTL)
    return f"{code[:4]}-{code[4:]}"


def _code(code: str) -> str | None:
    code = (code or "").replace("-", "").replace(" ", "").upper()
    return code if len(code) == 8 and all(c in REQUEST_ALPHABET for c in code) else None


def peek_request(services, code: str) -> dict | None:
    """The request behind a code; None when unknown, expired or used."""
    code = _code(code)
    raw = services.redis.client().get(_key(services, "request", code)) if code else None
    return json.loads(services.vault.decrypt(raw.decode(), "bind.request")) if raw is not None else None


def drop_request(services, code: str) -> None:
    code = _code(code)
    if code:
        services.redis.client().delete(_key(services, "request", code))
