"""Normalising what people type: full-width digits and letters folded, spaces tidied; emoji spotted."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # never meant, and PostgreSQL refuses NUL
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))


# full-width digits and Latin letters, and the ideographic space: folded in what people type
# (１２３ -> 123); full-width punctuation stays, for free text keeps its ，。？（） as written
_WIDE = {c: unicodedata.normalize("NFKC", chr(c)) for r in ((0xFF10, 0xFF1A), (0xFF21, 0xFF3B), (0xFF41, 0xFF5B))
         for c in range(*r)}
_WIDE[0x3000] = " "


def normalise(raw: str) -> str:
    """What people typed, tidied: full-width digits and letters folded, spaces collapsed, control
    characters gone; punctuation as typed (answers that read numbers or choices fold it)."""
    return _SPACES.sub(" ", CONTROL.sub("", unicodedata.normalize("NFC", raw or "").translate(_WIDE))).strip()


def fold(raw: str) -> str:
    """The form keywords, numbers and choices are matched in: NFKC (？ -> ?, （ -> (), lower case."""
    return _SPACES.sub(" ", CONTROL.sub("", unicodedata.normalize("NFKC", raw or ""))).strip().lower()


def has_emoji(text: str) -> bool:
    for ch in text:
        cp = ord(ch)
        if ch in "\u200d\ufe0f" or unicodedata.category(ch) in ("So", "Cs", "Co"):
            return True
        if any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES):
            return True
    return False


def pairs(text: str) -> frozenset[str]:
    """The overlapping two-character pieces of a text's letters and digits, folded (the FAQ's
    measure of how close a question is to an entry's)."""
    t = "".join(c for c in fold(text) if c.isalnum())
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))
