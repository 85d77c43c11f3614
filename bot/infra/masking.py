"""Masked forms of personal data: the only forms replies, logs, the console and API lists show.

张三 -> 张*, 欧阳娜娜 -> 欧***, JOHN SMITH -> J*** S***, 330102199001011234 -> 330***********1234,
13812341234 -> 138****1234, E12345678 -> E******78.
"""
from __future__ import annotations

import re

STAR = "*"


def id_tail(number: str | None) -> str:
    """The last 4 characters of a document number (shown to tell family members apart)."""
    return (number or "").strip()[-4:].upper()


def pronoun(id_type: str | None, number: str | None) -> str:
    """"he" or "she" from a resident ID card's 17th digit (odd: male); "" where the document says
    nothing. A key: templates/chat/words.txt words it in the language in hand (他, 她, 其)."""
    n = (number or "").strip()
    if id_type == "id_card" and len(n) == 18 and n[16].isdigit():
        return "he" if int(n[16]) % 2 else "she"
    return ""


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    name = name.strip()
    if re.search(r"[A-Za-z\u00c0-\u024f]", name) and not re.search(r"[\u4e00-\u9fff]", name):
        # Latin names (国际版): the first letter of each part and three stars, whatever its length
        # (the length would tell JO from JONATHAN): JOHN SMITH -> J*** S***, O'BRIEN -> O***
        return " ".join(part[0] + STAR * 3 for part in re.split(r"[\s·]+", name) if part)
    if len(name) == 1:
        return STAR
    return name[0] + STAR * (len(name) - 1)


def mask_id_number(number: str | None) -> str:
    if not number:
        return ""
    n = len(number)
    if n >= 15:  # resident ID cards, 18 digits or the legacy 15
        return number[:3] + STAR * (n - 7) + number[-4:]
    if n >= 8:  # passports, permits
        return number[:1] + STAR * (n - 3) + number[-2:]
    if n >= 3:
        return STAR * (n - 1) + number[-1:]
    return STAR * n


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11:
        return digits[:3] + STAR * 4 + digits[-4:]
    if len(digits) >= 7:
        return digits[:2] + STAR * (len(digits) - 4) + digits[-2:]
    return STAR * len(digits)


def mask_address(address: str | None) -> str:
    """Keep the region part (up to the district/county), hide the street and number."""
    if not address:
        return ""
    match = re.match(r"^(?:[^省市区县旗州盟\d]{1,8}?(?:自治区|省|市|自治州|州|盟|区|县|旗)){1,3}", address)
    keep = match.group(0) if match else address[: min(6, len(address) // 2)]
    return keep + STAR * 4


def mask_text(text: str) -> str:
    """Scrub ID numbers and phone numbers out of free text (log lines, descriptions)."""
    text = re.sub(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])", lambda m: mask_id_number(m.group(1)), text)
    return re.sub(r"(?<!\d)(1[3-9]\d{9})(?!\d)", lambda m: mask_phone(m.group(1)), text)
