"""Answer fields: marshmallow fields that turn what a user typed into a value.

A field normalises the text first (bot.chat.conversation.text.normalise: full-width folded, spaces tidied). A bad answer raises Invalid
with a message key in templates/chat/errors.txt and the values that message shows, so every
refusal says exactly what is wrong.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache

from marshmallow import fields

from bot.chat.conversation.flow import Invalid
from bot.chat.conversation.text import fold, has_emoji, normalise
from bot.domain.idcard import IdProblem, check_number, looks_like_id_card
from bot.domain.vocab import IdType
from bot.infra import countries
from bot.infra.config import ROOT


@lru_cache(maxsize=1)
def words() -> dict:
    return json.loads((ROOT / "config" / "chat.json").read_text(encoding="utf-8"))


class Answer(fields.Field):
    """Base: refuses emoji and over-long text before the field's own parse."""

    max_length = 100

    def _deserialize(self, value, attr, data, **kwargs):
        text = normalise(value) if isinstance(value, str) else ""
        if not text:
            raise Invalid("empty")
        if has_emoji(text):
            raise Invalid("emoji")
        if len(text) > self.max_length:
            raise Invalid("too_long", max=self.max_length)
        return self.parse(text)

    def parse(self, text: str):
        return text


class Choice(Answer):
    """A number 1..n, or one of the words config/chat.json lists for this question."""

    def __init__(self, n: int, vocabulary: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.n = n
        self.vocabulary = vocabulary

    def parse(self, text):
        t = fold(text).rstrip(".、,，)）").lstrip("(（")
        if t.isdigit() and 1 <= int(t) <= self.n:
            return int(t)
        if self.vocabulary:
            for number, synonyms in words()["choices"][self.vocabulary].items():
                if t in synonyms:
                    return int(number)
        raise Invalid("choice", n=self.n)


LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # ASCII and accented Latin letters
NAME_CHARS = re.compile(rf"[\u4e00-\u9fff{LATIN}·' -]+")
# a Latin name's part: letters, hyphens and apostrophes between them (JEAN-LUC, O'BRIEN)
LATIN_PART = re.compile(rf"[{LATIN}]+(?:['-][{LATIN}]+)*")
NAME_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", ".": "·", "．": "·", "･": "·",
                           "’": "'", "‘": "'", "`": "'", "‐": "-", "‑": "-", "–": "-"})
LATIN_NAME_MAX = 60  # a passport's name field holds 39; room for both names in full


class Name(Answer):
    """Chinese names: 2 to 30 characters, `·` between the parts of a minority name. Latin names
    (国际版): letters, spaces, hyphens and apostrophes, up to 60, kept upper-case as passports
    print them."""

    max_length = 80

    def parse(self, text):
        name = text.translate(NAME_DOTS).strip(" ·")
        name = re.sub(r"\s*·\s*", "·", name)
        if re.search(r"\d", name):
            raise Invalid("name_digits")
        if not NAME_CHARS.fullmatch(name) or "··" in name:
            raise Invalid("name_chars")
        if not re.search(r"[\u4e00-\u9fff]", name) and re.search(rf"[{LATIN}]", name):
            if not all(LATIN_PART.fullmatch(part) for part in re.split(r"[ ·]", name)):
                raise Invalid("name_chars")
            if not 2 <= len(name) <= LATIN_NAME_MAX:
                raise Invalid("latin_name_length", max=LATIN_NAME_MAX)
            return name.upper()
        if re.search(r"['-]", name):
            raise Invalid("name_chars")
        if not 2 <= len(name) <= 30:
            raise Invalid("name_length")
        return name


class Nationality(Answer):
    """A passport's issuing country (国际版): a code (USA, US) or its name in either language;
    the value is the ISO 3166-1 alpha-3 code."""

    def parse(self, text):
        code = countries.parse(text)
        if code is None:
            raise Invalid("nationality")
        return code


class IdNumber(Answer):
    """The number of the document type chosen; checks per bot.domain.idcard. Value: (number, birth)."""

    max_length = 40

    def __init__(self, id_type: str, today: dt.date, nationality: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.id_type = id_type
        self.today = today
        self.nationality = nationality

    def parse(self, text):
        try:
            return check_number(self.id_type, text, self.today, self.nationality)
        except IdProblem as problem:
            raise Invalid(problem.code) from None


class Phone(Answer):
    """A mainland mobile number: 1[3-9] and 9 more digits; spaces, dashes and +86 are dropped."""

    def parse(self, text):
        digits = re.sub(r"[\s\-()]", "", fold(text))
        digits = re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)
        if not digits.isdigit():
            raise Invalid("phone_chars")
        if len(digits) != 11:
            raise Invalid("phone_length", length=len(digits))
        if not re.fullmatch(r"1[3-9]\d{9}", digits):
            raise Invalid("phone_prefix")
        return digits


class SmsCode(Answer):
    def parse(self, text):
        code = fold(text).replace(" ", "")
        if not re.fullmatch(r"\d{6}", code):
            raise Invalid("sms_format")
        return code


@lru_cache(maxsize=1)
def _relative() -> tuple[dict, re.Pattern, re.Pattern]:
    """config/chat.json's relative_dates, as the patterns for 3天前 and 上周五."""
    w = words()["relative_dates"]

    def either(options) -> str:
        return "|".join(map(re.escape, sorted(options, key=len, reverse=True)))

    numerals = "".join(w["numerals"])
    days_ago = re.compile(rf"(?P<n>\d{{1,3}}|[{numerals}]{{1,2}})(?:{either(w['days'])})"
                          rf"(?P<dir>{either(w['ago'] + w['after'])})")
    weekday = re.compile(rf"(?P<week>{either(w['weeks'])})?(?:{either(w['week_words'])})(?P<d>{either(w['weekdays'])})")
    return w, days_ago, weekday


def _count(text: str, numerals: dict) -> int:
    """A count of days in digits or characters: 3, 三, 十, 十二, 二十."""
    if text.isdigit():
        return int(text)
    if len(text) == 2:  # 十二 = 10 + 2, 二十 = 2 * 10
        return 10 + numerals[text[1]] if numerals[text[0]] == 10 else numerals[text[0]] * 10
    return numerals[text]


def relative_day(text: str, today: dt.date, future: bool = False) -> dt.date | None:
    """3天前, 三天后, 上周五, 周一, 下星期二: the day meant, or None. A bare weekday is the last
    such day (today included), or with `future` the next one."""
    w, days_ago, weekday_of = _relative()
    m = days_ago.fullmatch(text)
    if m:
        n = _count(m.group("n"), w["numerals"])
        return today + dt.timedelta(days=n if m.group("dir") in w["after"] else -n)
    m = weekday_of.fullmatch(text)
    if m is None:
        return None
    weekday, week = w["weekdays"][m.group("d")], m.group("week")
    monday = today - dt.timedelta(days=today.weekday())
    if week:
        return monday + dt.timedelta(weeks=w["weeks"][week], days=weekday)
    back = (today.weekday() - weekday) % 7
    if future:
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)
    return today - dt.timedelta(days=back)


def _date_patterns() -> tuple:
    """2026-11-20, 2026/11/20, 20261120, 11-20, and the same with the date marks of config/chat.json."""
    y, m, d = (re.escape(words()["date_marks"][k]) for k in ("year", "month", "day"))
    return (re.compile(rf"(?P<y>\d{{4}})[-/.{y}](?P<m>\d{{1,2}})[-/.{m}](?P<d>\d{{1,2}}){d}?"),
            re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
            re.compile(rf"(?P<m>\d{{1,2}})[-/.{m}](?P<d>\d{{1,2}}){d}?"))


DATE_PATTERNS = _date_patterns()


class Day(Answer):
    """A calendar day: 2026-11-20, 2026/11/20, 2026年11月20日, 11月20日, 今天, 昨天, 前天, 3天前,
    上周五, 周一. Not in the future and not before the window (`window` days including today)."""

    future = False  # a bare weekday is the last one

    def __init__(self, today: dt.date, window: int, **kwargs):
        super().__init__(**kwargs)
        self.today = today
        self.window = window

    def parse(self, text):
        day = self.day(text)
        if day > self.today:
            raise Invalid("date_future")
        earliest = self.today - dt.timedelta(days=self.window - 1)
        if day < earliest:
            raise Invalid("date_too_old", days=self.window, earliest=earliest)
        return day

    def day(self, text) -> dt.date:
        t = fold(text).replace(" ", "")
        relative = words()["dates"]
        if t in relative:
            return self.today - dt.timedelta(days=relative[t])
        day = relative_day(t, self.today, future=self.future)
        if day is not None:
            return day
        for pattern in DATE_PATTERNS:
            m = pattern.fullmatch(t)
            if m:
                year = int(m.group("y")) if "y" in m.groupdict() else self.today.year
                try:
                    return dt.date(year, int(m.group("m")), int(m.group("d")))
                except ValueError:
                    raise Invalid("date_invalid") from None
        raise Invalid("date_format")


class EndDay(Day):
    """The day a measure is to be lifted: after today (it is still going on) and within `ahead`
    days (明天, 5天后, 下周一, 周五 the next one), or 不清楚 / 跳过 and the like (None: the
    policy's usual length applies)."""

    future = True

    def __init__(self, today: dt.date, ahead: int = 90, **kwargs):
        super().__init__(today, 1, **kwargs)
        self.ahead = ahead

    def parse(self, text):
        if fold(text).rstrip("。.!！") in words()["words_of"]["unknown"]["unknown"]:
            return None
        day = self.day(text)
        if day <= self.today:
            raise Invalid("end_not_after_today")
        if day > self.today + dt.timedelta(days=self.ahead):
            raise Invalid("end_too_far", days=self.ahead)
        return day


class Place(Answer):
    """A place: a name (省市区) or a division code of 6 to 12 digits."""

    max_length = 60

    def parse(self, text):
        if text.isdigit():
            if len(text) not in (6, 9, 12):
                raise Invalid("place_code")
            return text
        if len(text) < 2:
            raise Invalid("place_short")
        return text


class Text(Answer):
    """Free text of min..max characters (a description, an address)."""

    def __init__(self, min_length: int, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.min_length, self.max_length = min_length, max_length

    def parse(self, text):
        if len(text) < self.min_length:
            raise Invalid("text_short", min=self.min_length)
        return text


class Word(Answer):
    """One of a few words (config/chat.json "words_of" lists their synonyms), e.g. 完成 / 跳过."""

    def __init__(self, vocabulary: str, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = vocabulary

    def parse(self, text):
        t = fold(text).rstrip("。.!！")
        for value, synonyms in words()["words_of"][self.vocabulary].items():
            if t in synonyms:
                return value
        raise Invalid(self.vocabulary)


class Number(Answer):
    """A whole number lo..hi (hours of a pass)."""

    def __init__(self, lo: int, hi: int, **kwargs):
        super().__init__(**kwargs)
        self.lo, self.hi = lo, hi

    def parse(self, text):
        t = fold(text)
        for unit in words()["number_units"]:  # 3小时, 3个小时
            t = t.replace(unit, "")
        t = t.strip()
        if not t.isdigit() or not self.lo <= int(t) <= self.hi:
            raise Invalid("number_range", lo=self.lo, hi=self.hi)
        return int(t)


class IdTypeOrNumber(Answer):
    """1/2/3 for the document type, or an ID card number typed straight away (type 1 assumed)."""

    max_length = 40

    def __init__(self, today: dt.date, **kwargs):
        super().__init__(**kwargs)
        self.today = today

    def parse(self, text):
        if looks_like_id_card(text):
            return ("number", IdNumber(IdType.ID_CARD, self.today).parse(text))
        return ("type", tuple(IdType)[Choice(3, "id_type").parse(text) - 1])
