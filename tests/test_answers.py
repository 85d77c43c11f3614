"""Answer fields and ID checks: every bad input of product.md gets its own reason."""
import datetime as dt

import pytest

from bot.chat.conversation.text import has_emoji, normalise
from bot.domain.idcard import IdProblem, check_digit, check_id_card, check_number
from bot.chat.conversation.answers import Choice, Day, IdNumber, Invalid, Name, Phone, Place

TODAY = dt.date(2026, 11, 22)


def id_card(body17: str) -> str:
    return body17 + check_digit(body17)


def refused(field, text) -> str:
    with pytest.raises(Invalid) as bad:
        field.deserialize(normalise(text))
    return bad.value.key


def test_gb11643_check_digit_known_numbers():
    # the standard's worked example and a number ending in X
    assert check_digit("11010519491231002") == "X"
    assert check_id_card("11010519491231002X", TODAY).birth == dt.date(1949, 12, 31)
    assert check_id_card("11010519491231002x", TODAY).number.endswith("X")
    assert check_digit("44052418800101001") == "4"


def test_id_card_refusals_name_the_problem():
    good = id_card("11010119900307757")
    wrong_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert refused(IdNumber("id_card", TODAY), wrong_digit) == "id_check_digit"
    assert refused(IdNumber("id_card", TODAY), id_card("11010120270101123")) == "id_birth_future"
    assert refused(IdNumber("id_card", TODAY), id_card("11010119900230123")) == "id_birth_invalid"
    assert refused(IdNumber("id_card", TODAY), good[:17]) == "id_length"
    assert refused(IdNumber("id_card", TODAY), good[:16] + "AB") == "id_chars"
    assert refused(IdNumber("id_card", TODAY), id_card("99010119900307757")) == "id_region"
    assert refused(IdNumber("id_card", TODAY), "😀" + good) == "emoji"


def test_full_width_digits_and_spaces_are_folded():
    good = id_card("11010119900307757")
    wide = "".join(chr(ord(c) + 0xFEE0) for c in good)
    number, birth = IdNumber("id_card", TODAY).deserialize(normalise(" " + wide[:6] + "\u3000" + wide[6:] + " "))
    assert number == good and birth == dt.date(1990, 3, 7)
    assert Phone().deserialize(normalise("１３８ １２３４ ５６７８")) == "13812345678"
    assert Choice(2).deserialize(normalise("２")) == 2


def test_other_documents():
    assert check_number("permit", "H12345678", TODAY)[0] == "H12345678"
    assert check_number("permit", id_card("81000019900101001"), TODAY)[1] == dt.date(1990, 1, 1)
    assert refused(IdNumber("permit", TODAY), "X1234") == "permit_format"
    with pytest.raises(IdProblem):  # a mainland ID is not a residence permit
        check_number("permit", id_card("11010119900307757"), TODAY)


def test_phone():
    assert Phone().deserialize("+86 138-1234-5678") == "13812345678"
    assert refused(Phone(), "138123456789") == "phone_length"
    assert refused(Phone(), "12812345678") == "phone_prefix"
    assert refused(Phone(), "138abc45678") == "phone_chars"


def test_name():
    assert Name().deserialize("张三") == "张三"
    assert Name().deserialize("买买提•艾力") == "买买提·艾力"
    assert Name().deserialize("john  smith") == "JOHN SMITH"
    assert refused(Name(), "张") == "name_length"
    assert refused(Name(), "张3") == "name_digits"
    assert refused(Name(), "张三!") == "name_chars"
    assert refused(Name(), "张三👍") == "emoji"
    assert refused(Name(), "张" * 31) == "name_length"


def test_latin_names():
    """国际版: letters, spaces, hyphens and apostrophes between letters; accents kept; upper-case."""
    assert Name().deserialize("Jean-Luc O’Brien") == "JEAN-LUC O'BRIEN"
    assert Name().deserialize("José Álvarez") == "JOSÉ ÁLVAREZ"
    assert Name().deserialize("A" * 40 + " B") == "A" * 40 + " B"
    for bad in ("-John", "John-", "O''Brien", "John - Smith", "张-三", "张'三", "John_Smith", "John@Smith"):
        assert refused(Name(), bad) == "name_chars", bad
    assert refused(Name(), "J" * 61) == "latin_name_length"


def test_passports_by_pattern_and_nationality():
    from bot.chat.conversation.answers import Nationality

    assert check_number("passport", "e1234 5678", TODAY) == ("E12345678", None)   # ICAO: up to 9, with a digit
    for bad in ("E12", "ABCDEFGH", "E1234567890"):
        assert refused(IdNumber("passport", TODAY), bad) == "passport_format", bad
    assert check_number("passport", "EA1234567", TODAY, "CHN")[0] == "EA1234567"   # the issuer's own pattern
    assert refused(IdNumber("passport", TODAY, "CHN"), "123456789") == "passport_format"
    assert refused(IdNumber("passport", TODAY, "CHN"), "EI1234567") == "passport_format"  # no I or O in it
    assert check_number("passport", "123456789", TODAY, "USA")[0] == "123456789"
    assert check_number("passport", "X1234567", TODAY, "FRA")[0] == "X1234567"      # no pattern of its own: ICAO
    nationality = Nationality()
    for typed, code in (("usa", "USA"), ("US", "USA"), ("United States", "USA"), ("美国", "USA"), ("英国", "GBR"),
                        ("germany", "DEU"), (" JPN ", "JPN"), ("中国香港特别行政区", "HKG")):
        assert nationality.deserialize(typed) == code, typed
    for bad in ("Narnia", "XXX", "BUR", "DDR"):  # unknown, or withdrawn codes
        assert refused(nationality, bad) == "nationality", bad


def test_choice_numbers_and_words():
    yes_no = Choice(2, "yes_no")
    assert yes_no.deserialize("1") == 1 and yes_no.deserialize("否") == 2 and yes_no.deserialize("2.") == 2
    assert refused(yes_no, "3") == "choice"
    assert refused(yes_no, "也许") == "choice"


def test_days():
    day = Day(TODAY, 21)
    assert day.deserialize("今天") == TODAY
    assert day.deserialize("昨天") == TODAY - dt.timedelta(days=1)
    assert day.deserialize("2026-11-02") == dt.date(2026, 11, 2)
    assert day.deserialize("2026年11月5日") == dt.date(2026, 11, 5)
    assert day.deserialize("11月5日") == dt.date(2026, 11, 5)
    assert day.deserialize("20261105") == dt.date(2026, 11, 5)
    assert refused(day, "2026-11-23") == "date_future"
    assert refused(day, "2026-11-01") == "date_too_old"
    assert refused(day, "2026-02-30") == "date_invalid"
    assert refused(day, "last week") == "date_format"


def test_place():
    assert Place().deserialize("330106") == "330106"
    assert refused(Place(), "3301") == "place_code"
    assert Place().deserialize("杭州市西湖区") == "杭州市西湖区"


def test_emoji_detection():
    assert has_emoji("好的👍") and has_emoji("☺") and not has_emoji("张三·李四 123")
