"""Nationalities as ISO 3166-1 alpha-3 codes (国际版: asked of passport holders), with their names
in the chat's languages. The list and the names are CLDR's, as Babel ships them: no table of our
own to keep up to date."""
from __future__ import annotations

import re
from functools import lru_cache

# CLDR keeps withdrawn alpha-3 codes as aliases of today's countries: not for new documents
WITHDRAWN = {"BUR", "ZAR", "DDR", "FXX", "TMP", "YMD", "ANT", "SCG", "YUG", "CSK", "SUN", "NTZ", "ROM", "TPE"}
LOCALES = {"zh": "zh_Hans", "en": "en"}


@lru_cache(maxsize=1)
def alpha3() -> dict[str, str]:
    """alpha-3 -> alpha-2, for today's countries and territories."""
    from babel import Locale
    from babel.core import get_global

    known = Locale("en").territories
    return {code: targets[0] for code, targets in get_global("territory_aliases").items()
            if re.fullmatch(r"[A-Z]{3}", code) and len(targets) == 1 and targets[0] in known
            and code not in WITHDRAWN}


@lru_cache(maxsize=None)
def _names(lang: str) -> dict[str, str]:
    from babel import Locale

    territories = Locale.parse(LOCALES.get(lang, "en")).territories
    return {code: territories[two] for code, two in alpha3().items()}


def name(code: str | None, lang: str = "zh") -> str:
    """The country's name in `lang` ('' for none; an unknown code as it is)."""
    if not code:
        return ""
    return _names(lang).get(code, code)


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    by = {}
    for code, two in alpha3().items():
        by[code.lower()] = code
        by.setdefault(two.lower(), code)
    for lang in LOCALES:
        for code, text in _names(lang).items():
            by.setdefault(text.lower(), code)
    return by


def parse(text: str) -> str | None:
    """What a user typed (USA, US, United States, 美国) as alpha-3; None when it is none of them."""
    key = re.sub(r"\s+", " ", text.strip().strip(".。")).lower()
    return _index().get(key)
