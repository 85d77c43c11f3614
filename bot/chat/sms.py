"""SMS verification codes, kept hashed in Redis; sent through the SMS gateway (bot.infra.sms)."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from bot.infra.sms import send_text

CODE_TTL = 300
SENDS_PER_HOUR = 5
TRIES = 5


def _digest(secret: bytes, phone: str, code: str) -> str:
    return hmac.new(secret, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(services, conversation: str, phone: str) -> bool:
    """False when this phone had too many codes this hour."""
    r = services.redis.client()
    rate = f"sms:rate:{_digest(services.settings.secret_key, phone, 'rate')[:32]}"  # no phone in the clear
    count = r.incr(rate)
    if count == 1:
        r.expire(rate, 3600)
    if count > SENDS_PER_HOUR:
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    r.set(f"sms:code:{conversation}", json.dumps({"d": _digest(services.settings.secret_key, phone, code), "n": 0}),
          ex=CODE_TTL)
    from bot.infra.texts import say

    send_text(services, phone, say("sms.code", code=code, minutes=CODE_TTL // 60))
    return True


def check_code(services, conversation: str, phone: str, code: str) -> bool:
    r = services.redis.client()
    key = f"sms:code:{conversation}"
    raw = r.get(key)
    if raw is None:
        return False
    stored = json.loads(raw)
    if hmac.compare_digest(stored["d"], _digest(services.settings.secret_key, phone, code)):
        r.delete(key)
        return True
    stored["n"] += 1
    if stored["n"] >= TRIES:
        r.delete(key)
    else:
        r.set(key, json.dumps(stored), keepttl=True)
    return False
