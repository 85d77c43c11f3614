"""Every sentence a user reads comes from templates/chat/*.txt (Jinja2 macros, zh-CN).

`say("declare.ask_name", name=...)` calls macro ask_name of templates/chat/declare.txt with one
argument `v`, the keyword arguments as a dict. Missing values fail loudly (StrictUndefined),
and the tests render every macro.

Languages (issue 20, 国际版): a sentence marked `{{ _("…") }}` in a template is looked up in
the gettext catalog of the language in hand (`language`, a context variable the chat sets per
message; zh-CN, the source language, needs none). The catalogs are the ecosystem's standard
`.po` files under translations/<lang>/LC_MESSAGES/messages.po, extracted from the templates with
Babel (babel.cfg; `make translations`), read and compiled in memory at first use.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import io
import json
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.infra import countries
from bot.infra.config import ROOT
from bot.infra.db import SHANGHAI
from bot.infra.masking import mask_id_number, mask_name, mask_phone

TEMPLATES = ROOT / "templates" / "chat"
CATALOGS = ROOT / "translations"
SOURCE_LANGUAGE = "zh"
LANGUAGES = (SOURCE_LANGUAGE, "en")
# the template files whose every sentence is marked for translation: all that a citizen reads
# (console.txt is the staff console's, which stays Chinese)
TRANSLATED = ("common", "menu", "errors", "faq", "image", "sms", "words", "code", "declare", "family", "appeal",
              "arrival", "pass", "paper", "push", "facts")
language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=SOURCE_LANGUAGE)
FORMATS = json.loads((ROOT / "config" / "formats.json").read_text(encoding="utf-8"))


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_value(value, lang: str | None = None) -> str:
    """Dates and instants as users read them (config/formats.json, in `lang` or the language in
    hand), Asia/Shanghai."""
    formats = FORMATS.get(lang or language.get(), FORMATS)
    if isinstance(value, dt.datetime):
        return format_instant(value, "datetime", lang)
    if isinstance(value, dt.date):
        return formats["date"].format(year=value.year, month=value.month, day=value.day, mon=MONTHS[value.month - 1])
    return "" if value is None else str(value)


def format_instant(value: dt.datetime, form: str = "datetime", lang: str | None = None) -> str:
    """An instant in one of config/formats.json's forms (datetime, stamp, clock), Asia/Shanghai."""
    formats = FORMATS.get(lang or language.get(), FORMATS)
    local = value.astimezone(SHANGHAI)
    return formats[form].format(year=local.year, month=local.month, day=local.day, hour=local.hour,
                                minute=local.minute, second=local.second, mon=MONTHS[local.month - 1])


def translations(lang: str):
    """The language's catalog as gettext translations (the source language: none needed)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    path = CATALOGS / lang / "LC_MESSAGES" / "messages.po"
    if lang == SOURCE_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


@lru_cache(maxsize=None)
def gettext_for(lang: str):
    """The templates' `_`: the sentence in `lang`, its %(name)s filled from the keywords. A plain
    global, not Jinja's i18n extension: that one's context-passing call cost the webhook 7 µs a
    message (measured), and the source language needs no lookup at all."""
    if lang == SOURCE_LANGUAGE:
        def source(message: str, /, **values) -> str:
            return message % values if values else message
        return source
    look_up = translations(lang).gettext

    def translated(message: str, /, **values) -> str:
        found = look_up(message)
        return found % values if values else found
    return translated


def gettext(message: str, /, **values) -> str:
    """`_` for templates rendered outside the chat's own environments (the Flask pages): the
    sentence in the language in hand."""
    return gettext_for(language.get())(message, **values)


@lru_cache(maxsize=None)
def environment(lang: str = SOURCE_LANGUAGE) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, autoescape=False, keep_trailing_newline=False)
    env.globals["_"] = gettext_for(lang)
    env.globals["lang"] = lang
    env.filters["country"] = lambda code: countries.name(code, lang)
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    env.filters["stamp"] = lambda value: format_instant(value, "stamp", lang)
    # a flow may hand over what was typed: the sentence shows it masked
    env.filters.update(mask_name=mask_name, mask_id=mask_id_number, mask_phone=mask_phone)
    return env


@lru_cache(maxsize=None)
def _macro(key: str, lang: str = SOURCE_LANGUAGE):
    module, _, name = key.partition(".")
    macro = getattr(environment(lang).get_template(module + ".txt").module, name, None)
    if macro is None:
        raise KeyError(f"no message {key!r} in templates/chat/{module}.txt")
    return macro


def say(key: str, **values) -> str:
    """The sentence in the language in hand (`language`)."""
    return str(_macro(key, language.get())(values)).strip()


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
