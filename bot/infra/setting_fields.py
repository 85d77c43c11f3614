"""The field types of the settings schema (bot.settings): each refuses with the one line the
operator reads, naming what was given."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from marshmallow import ValidationError, fields


class Whole(fields.Field):
    def __init__(self, lo: int, hi: int, **kw):
        super().__init__(**kw)
        self.lo, self.hi = lo, hi

    def _deserialize(self, value, attr, data, **kw):
        try:
            number = int(value)
        except ValueError:
            raise ValidationError(f"must be a whole number, got {value!r}") from None
        if not self.lo <= number <= self.hi:
            raise ValidationError(f"must be between {self.lo} and {self.hi}, got {number}")
        return number


class Decimal(fields.Field):
    def __init__(self, lo: float = 0.01, hi: float = 3600.0, **kw):
        super().__init__(**kw)
        self.lo, self.hi = lo, hi

    def _deserialize(self, value, attr, data, **kw):
        try:
            number = float(value)
        except ValueError:
            raise ValidationError(f"must be a number, got {value!r}") from None
        if not self.lo <= number <= self.hi:
            raise ValidationError(f"must be between {self.lo} and {self.hi}, got {number}")
        return number


class Choice(fields.Field):
    def __init__(self, choices, lower=False, upper=False, **kw):
        super().__init__(**kw)
        self.choices, self.lower, self.upper = choices, lower, upper

    def _deserialize(self, value, attr, data, **kw):
        v = value.lower() if self.lower else value.upper() if self.upper else value
        if v not in self.choices:
            raise ValidationError(f"must be {' or '.join(self.choices) if len(self.choices) < 3 else 'one of ' + ', '.join(self.choices)}, got {value!r}")
        return v


class Pattern(fields.Field):
    def __init__(self, pattern: str, problem: str, **kw):
        super().__init__(**kw)
        self.pattern, self.problem = re.compile(pattern), problem

    def _deserialize(self, value, attr, data, **kw):
        if not self.pattern.match(value):
            raise ValidationError(self.problem.format(value=value))
        return value


class Url(fields.Field):
    def _deserialize(self, value, attr, data, **kw):
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValidationError(f"must be a URL starting with http:// or https://, got {value!r}")
        return value.rstrip("/")


class ExistingFile(fields.Field):
    def _deserialize(self, value, attr, data, **kw):
        if not Path(value).is_file():
            raise ValidationError(f"file {value} does not exist")
        return value


class Pem(fields.Field):
    """PEM text, or @/path/to/file.pem (Alipay's keys)."""

    def _deserialize(self, value, attr, data, **kw):
        if value.startswith("@"):
            path = Path(value[1:])
            if not path.is_file():
                raise ValidationError(f"file {path} does not exist")
            value = path.read_text()
        return value.replace("\\n", "\n")


class RateLimit(fields.Field):
    def _deserialize(self, value, attr, data, **kw):
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValidationError(f"must be a rate such as '600 per minute', got {value!r}") from None
        return value


class HostPorts(fields.Field):
    """host:port,host:port (Redis Sentinels) -> ((host, port), …)."""

    def _deserialize(self, value, attr, data, **kw):
        out = []
        for part in (p.strip() for p in value.split(",") if p.strip()):
            host, _, port = part.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValidationError(f"must be host:port,host:port…, got {value!r}")
            out.append((host, int(port)))
        if not out:
            raise ValidationError(f"must be host:port,host:port…, got {value!r}")
        return tuple(out)
