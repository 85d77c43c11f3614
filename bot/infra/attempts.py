"""Failed attempts at proving who someone is, counted per ID number in Redis: FAILURES within an
hour lock the number for that purpose for an hour, whoever tries (a chat account, a staff
member). The keys hold a keyed hash of the number, never the number. Purposes are counted apart,
so a 12345 caller check that goes wrong does not lock the owner out of binding a new phone."""
from __future__ import annotations

import hashlib
import hmac

FAILURES = 5
LOCK_SECONDS = 3600


def _key(services, purpose: str, id_hash: str) -> str:
    digest = hmac.new(services.settings.secret_key, f"fail:{id_hash}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{purpose}:fail:{digest}"


def locked(services, purpose: str, id_hash: str) -> bool:
    raw = services.redis.client().get(_key(services, purpose, id_hash))
    return raw is not None and int(raw) >= FAILURES


def failed(services, purpose: str, id_hash: str) -> bool:
    """Count a failed attempt; True when the number is now locked."""
    r = services.redis.client()
    key = _key(services, purpose, id_hash)
    count = r.incr(key)
    if count == 1 or count == FAILURES:
        r.expire(key, LOCK_SECONDS)  # an hour from the first failure; the lock an hour from the last
    return count >= FAILURES
