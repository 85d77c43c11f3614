"""The SMS gateway: a pluggable sender (SMS_SENDER). A deployment plugs in its gateway as
SMS_SENDER=package.module:function, a callable (phone, text) that raises on failure. The
development sender (`log`) writes the message to the log with the phone masked, and outside
production also to a Redis list the development pages show (/dev/chat, /dev/sms).
"""
from __future__ import annotations

import importlib
import json
import logging
import time

from bot.infra.masking import mask_phone

log = logging.getLogger("bot.infra.sms")
DEV_INBOX = "dev:sms"


def sender(settings):
    spec = settings.sms_sender
    if spec == "log":
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


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
