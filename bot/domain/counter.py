"""Serving people in person (线下申请, seed 000): a counter clerk, holding the person's document,
registers them or finds their record. Then the clerk may act for them: declare through the
chat's own declare flow (bot.chat.counter) and print their paper code.

The document is the proof, so the name and ID number must both match a record before the clerk
sees or changes anything of it. A number alone opens nothing. The person's consent and the
document check are required, and the audit log records both. A record a family member created
is confirmed here as it would be by the owner's own registration in chat. The clerk's name
wins, and bindings made under another name are dropped. A new phone for a registered person is
a staff phone change, and their chat accounts are told.
"""
from __future__ import annotations

from bot.domain import audit
from bot.domain.accounts import change_phone, end_bindings_over, tell_accounts
from bot.domain.errors import Invalid
from bot.domain.models import Person
from bot.domain.people import find_person, get_or_create_person, home_district, same_name
from bot.domain.vocab import NoticeKind
from bot.infra.db import utcnow
from bot.infra.masking import mask_id_number


def serve(session, vault, staff, *, name: str, id_type: str, id_number: str, phone: str | None,
          documents_checked: bool, consent: bool, nationality: str | None = None) -> tuple[Person, str]:
    """The person the clerk serves, and what happened: registered (new), confirmed (a family
    member's record, now theirs), or found. The caller commits."""
    missing = {k: ["required"] for k, v in (("documents_checked", documents_checked), ("consent", consent)) if not v}
    if missing:
        raise Invalid("the document check and the person's consent are required", errors=missing)
    found = find_person(session, vault, id_type, id_number)
    outcome = "found"
    if found is not None and found.registered and not same_name(found.name, name):
        audit.by_staff(session, staff, "person.served_in_person", found.id, outcome="name_mismatch",
                       id_masked=mask_id_number(id_number))
        raise Invalid("the name does not match the record of this ID number", errors={"name": ["name_mismatch"]})
    if found is None:
        person, _ = get_or_create_person(session, vault, id_type, id_number, name, phone=phone, registered=True,
                                         district=home_district(id_type, id_number))
        outcome = "registered"
    elif not found.registered:
        person, outcome = found, "confirmed"
        if not same_name(found.name, name):
            end_bindings_over(session, found, NoticeKind.FAMILY_DROPPED, "staff", staff.id)
            found.name = name
        found.registered, found.phone, found.updated_at = True, phone or found.phone, utcnow()
    else:
        person = found
        if phone and phone != found.phone:
            change_phone(session, staff, found, phone)
    if nationality:  # a passport's issuing country, as the clerk read it off the document
        person.nationality = nationality
    session.flush()
    audit.by_staff(session, staff, "person.served_in_person", person.id, outcome=outcome, consent=True,
                   documents="checked", phone=bool(person.phone), id_masked=mask_id_number(person.id_number))
    return person, outcome


def declared(session, person_id: int) -> int:
    """Each chat account of the person hears that a clerk declared for them; how many."""
    return tell_accounts(session, person_id, NoticeKind.COUNTER_DECLARED, {})
