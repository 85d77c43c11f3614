"""JSON log lines with the request id; ID numbers and phone numbers are masked on the way out,
and tokens (code links, scan tokens, staff tokens, signed query values) redacted."""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys

from bot.infra.masking import mask_text

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# a path's token segment (the code page, a scan), a staff token, a credential in a query string
_TOKENS = re.compile(r"(?P<path>/(?:codes|v|paper)/)[^/?#\s\"']+"
                     r"|(?P<staff>hcs_)[A-Za-z0-9_\-]+"
                     r"|(?P<query>[?&](?:token|code|signature|msg_signature|echostr|sign|next)=)[^&#\s\"']+"
                     r"|(?P<bearer>Bearer )[^\s\"',]+", re.IGNORECASE)


def redact_tokens(text: str) -> str:
    """Tokens out of a log line: whoever reads the logs must not be able to open a code page,
    pass a scan or call the API with what they find there."""
    if "/" not in text and "hcs_" not in text and "=" not in text and "Bearer" not in text:
        return text
    return _TOKENS.sub(lambda m: next(g for g in m.groups() if g) + "[redacted]", text)


def scrub(text: str) -> str:
    return redact_tokens(mask_text(text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key in ("event", "path", "status", "ms", "method"):
            if hasattr(record, key):
                value = getattr(record, key)
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (so redirections and captures apply)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("werkzeug", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel("WARNING")
