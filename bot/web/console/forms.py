"""What the console's forms share: a person's document typed in, checked by the chat's own answer
fields, so a clerk's form refuses what the chat would, in the same words."""
from __future__ import annotations

from bot.chat.conversation.answers import IdNumber, Name, Nationality
from bot.chat.conversation.flow import Invalid as BadAnswer
from bot.chat.conversation.text import CONTROL
from bot.domain.models import ID_TYPES
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.texts import say


def id_type_of(form) -> str:
    return form.get("id_type") if form.get("id_type") in ID_TYPES else "id_card"


def checked(form, fields: dict, optional: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """(values, errors by field, in the chat's words). `fields`: name -> answer field; the
    document number (an IdNumber field) comes back without its birth date; an `optional` field
    left empty is None."""
    values, errors = {}, {}
    for name, field in fields.items():
        text = form.get(name) or ""
        if name in optional and not text.strip():
            values[name] = None
            continue
        try:
            value = field.deserialize(text)
            values[name] = value[0] if isinstance(field, IdNumber) else value
        except BadAnswer as bad:
            errors[name] = say("errors." + bad.key, **bad.values)
    return values, errors


def document_fields(form, nationality: bool = False) -> dict:
    """The name and the document number, for the document type the form chose; with
    `nationality`, a passport's issuing country too (国际版), which also picks the pattern its
    number is checked by."""
    id_type = id_type_of(form)
    if id_type != "passport" or not nationality:
        return {"name": Name(), "id_number": IdNumber(id_type, utcnow().astimezone(SHANGHAI).date())}
    try:
        country = Nationality().deserialize(form.get("nationality") or "")
    except BadAnswer:
        country = None
    return {"name": Name(), "nationality": Nationality(),
            "id_number": IdNumber(id_type, utcnow().astimezone(SHANGHAI).date(), country)}


def id_from_form(form) -> tuple[str, str] | None:
    """A look-up's (type, number), loosely checked (a miss answers for the rest); None if unusable."""
    number = (form.get("id_number") or "").strip()
    id_type = form.get("id_type") or "id_card"
    if not 5 <= len(number) <= 32 or id_type not in ID_TYPES or CONTROL.search(number):
        return None
    return id_type, number
