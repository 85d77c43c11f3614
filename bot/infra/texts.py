"""Every sentence a user reads comes from templates/chat/*.txt (Jinja2 macros, zh-CN).

`say("declare.ask_name", name=...)` calls macro ask_name of templates/chat/declare.txt with one
argument `v`, the keyword arguments as a dict. Missing values fail loudly (StrictUndefined),
and the tests render every macro.
"""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.infra.config import ROOT
from bot.infra.db import SHANGHAI
from bot.infra.masking import mask_id_number, mask_name, mask_phone

TEMPLATES = ROOT / "templates" / "chat"
FORMATS = json.loads((ROOT / "config" / "formats.json").read_text(encoding="utf-8"))


def format_value(value) -> str:
    """Dates and instants as users read them (config/formats.json), Asia/Shanghai."""
    if isinstance(value, dt.datetime):
        local = value.astimezone(SHANGHAI)
        return FORMATS["datetime"].format(year=local.year, month=local.month, day=local.day, hour=local.hour,
                                          minute=local.minute)
    if isinstance(value, dt.date):
        return FORMATS["date"].format(year=value.year, month=value.month, day=value.day)
    return "" if value is None else str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, autoescape=False, keep_trailing_newline=False)
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    # a flow may hand over what was typed: the sentence shows it masked
    env.filters.update(mask_name=mask_name, mask_id=mask_id_number, mask_phone=mask_phone)
    return env


@lru_cache(maxsize=None)
def _macro(key: str):
    module, _, name = key.partition(".")
    macro = getattr(environment().get_template(module + ".txt").module, name, None)
    if macro is None:
        raise KeyError(f"no message {key!r} in templates/chat/{module}.txt")
    return macro


def say(key: str, **values) -> str:
    return str(_macro(key)(values)).strip()


def keys(module: str) -> list[str]:
    """The message names a template file defines (for tests that render them all)."""
    mod = environment().get_template(module + ".txt").module
    return [f"{module}.{name}" for name in dir(mod) if not name.startswith("_") and callable(getattr(mod, name))]


def format_date(value) -> str:
    """A date (or the day of an instant, or an ISO string) as config/formats.json says."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.astimezone(SHANGHAI).date()
    return format_value(value)


def format_datetime(value) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return format_value(value)
