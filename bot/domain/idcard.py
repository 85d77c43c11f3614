"""Identity document numbers: checks shared by the chat flows and the staff API.

A check returns the normalised number or raises IdProblem whose `code` names a template
message (templates/chat/errors.txt), so callers can say exactly what is wrong.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.infra.pii import normalise_id_number

# GB 11643-1999: weights of the 17 body digits; the check character is CHECK[sum % 11].
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
# Province-level codes (GB/T 2260), plus 81/82/83 for Hong Kong, Macao and Taiwan residence permits.
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
PERMIT_PATTERNS = (
    re.compile(r"[HM]\d{8}(\d{2})?"),  # Hong Kong / Macao residents' mainland travel permit
    re.compile(r"\d{8}(\d{2})?"),      # Taiwan residents' mainland travel permit
)


class IdProblem(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class IdCard:
    number: str
    birth: dt.date

    def age_on(self, day: dt.date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


def check_digit(body17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(body17, WEIGHTS)) % 11]


def check_id_card(raw: str, today: dt.date, *, permit: bool = False) -> IdCard:
    """An 18-character resident ID card (or residence permit) number."""
    number = normalise_id_number(raw)
    if len(number) != 18:
        raise IdProblem("id_length")
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise IdProblem("id_chars")
    province = int(number[:2])
    if province not in PROVINCES or (not permit and province in (81, 82, 83)) or (permit and province not in (81, 82, 83)):
        raise IdProblem("id_region")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdProblem("id_birth_invalid") from None
    if birth >= today:
        raise IdProblem("id_birth_future")
    if birth.year < 1900:
        raise IdProblem("id_birth_invalid")
    if check_digit(number[:17]) != number[17]:
        raise IdProblem("id_check_digit")
    return IdCard(number, birth)


ICAO_PASSPORT = re.compile(r"(?=[A-Z]*\d)[A-Z0-9]{6,9}")
PASSPORT_PATTERNS = {
    "CHN": re.compile(r"[EGDSP]\d{8}|E[A-HJ-NP-Z]\d{7}"),  # 因私 E12345678 / EA1234567, 因公 G/D/S/P
    "USA": re.compile(r"[A-Z]?\d{8,9}"),
    "GBR": re.compile(r"\d{9}|[A-Z]{2}\d{7}"),
}


def check_number(id_type: str, raw: str, today: dt.date, nationality: str | None = None) -> tuple[str, dt.date | None]:
    """Any accepted document: (normalised number, birth date when the number tells it).
    Passports: ICAO 9303's document number (up to 9 letters and digits, with a digit), or the
    issuing country's own pattern where PASSPORT_PATTERNS has one."""
    if id_type == "id_card":
        card = check_id_card(raw, today)
        return card.number, card.birth
    number = normalise_id_number(raw)
    if id_type == "passport":
        pattern = PASSPORT_PATTERNS.get(nationality or "", ICAO_PASSPORT)
        if not pattern.fullmatch(number):
            raise IdProblem("passport_format")
        return number, None
    if id_type == "permit":
        if len(number) == 18:
            card = check_id_card(raw, today, permit=True)
            return card.number, card.birth
        if not any(p.fullmatch(number) for p in PERMIT_PATTERNS):
            raise IdProblem("permit_format")
        return number, None
    raise ValueError(f"unknown id_type {id_type!r}")


def looks_like_id_card(raw: str) -> bool:
    """An ID number typed where the document type is asked (product.md: type 1 is then assumed)."""
    return bool(re.fullmatch(r"\d{17}[\dXx]", re.sub(r"\s", "", raw)))
