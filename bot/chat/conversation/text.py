"""Normalising what people type: full-width folded, spaces tidied; emoji spotted."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # never meant, and PostgreSQL refuses NUL
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))


def normalise(raw: str) -> str:
    """NFKC folds full-width digits, letters and punctuation (１２３ -> 123, ？ -> ?); control
    characters go."""
    return _SPACES.sub(" ", CONTROL.sub("", unicodedata.normalize("NFKC", raw or ""))).strip()


def fold(raw: str) -> str:
    """The form keywords are matched in."""
    return normalise(raw).lower()


def has_emoji(text: str) -> bool:
    for ch in text:
        cp = ord(ch)
        if ch in "\u200d\ufe0f" or unicodedata.category(ch) in ("So", "Cs", "Co"):
            return True
        if any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES):
            return True
    return False
