"""SMS verification codes: a pluggable sender (SMS_SENDER), codes kept hashed in Redis.

The development sender writes the message to the log and to a Redis list the development chat
page shows. A deployment plugs in its SMS gateway as SMS_SENDER=package.module:function, a
callable (phone, text) that raises on failure.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import secrets
import time

from bot.infra.masking import mask_phone

log = logging.getLogger("bot.chat.sms")
CODE_TTL = 300
SENDS_PER_HOUR = 5
TRIES = 5
DEV_INBOX = "dev:sms"


def sender(settings):
    spec = settings.sms_sender
    if spec == "log":
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


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


def send_text(services, phone: str, text: str) -> None:
    """Through SMS_SENDER (raises when the gateway does). With `log`, outside production the
    message also goes to the development inbox (the development chat page shows it); in
    production `log` writes only the masked phone, never the phone to Redis."""
    send = sender(services.settings)
    if send is not None:
        send(phone, text)
        return
    log.info("development SMS to %s: %s", mask_phone(phone), text)
    if services.settings.env != "production":
        r = services.redis.client()
        r.lpush(DEV_INBOX, json.dumps({"phone": phone, "text": text, "at": time.time()}, ensure_ascii=False))
        r.ltrim(DEV_INBOX, 0, 49)
        r.expire(DEV_INBOX, 86400)


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
