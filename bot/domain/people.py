"""Finding and creating people by ID number, through the keyed hash (never by plaintext)."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain import audit
from bot.domain.codes import code_dict, history
from bot.domain.errors import NotFound
from bot.domain.models import ID_TYPES, Code, Person
from bot.domain.staff import in_scope
from bot.infra.masking import mask_id_number
from bot.infra.pii import Vault, normalise_id_number


def id_hash(vault: Vault, id_type: str, id_number: str) -> str:
    if id_type not in ID_TYPES:
        raise ValueError(f"id_type must be one of {', '.join(ID_TYPES)}")
    return vault.lookup_hash(id_type, normalise_id_number(id_number))


def home_district(id_type: str, number: str) -> str | None:
    """The district of household registration an ID card number starts with (community staff's
    scope) until an arrival report says where the person stays."""
    return number[:6] if id_type == "id_card" and number[:6].isdigit() else None


def same_name(a: str, b: str) -> bool:
    """Two spellings of one name: spaces and letter case aside."""
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def find_person(session: Session, vault: Vault, id_type: str, id_number: str) -> Person | None:
    return session.scalar(select(Person).where(Person.id_hash == id_hash(vault, id_type, id_number)))


def get_or_create_person(session: Session, vault: Vault, id_type: str, id_number: str, name: str,
                         **fields) -> tuple[Person, bool]:
    person = find_person(session, vault, id_type, id_number)
    if person is not None:
        return person, False
    person = Person(id_type=id_type, id_hash=id_hash(vault, id_type, id_number),
                    id_number=normalise_id_number(id_number), name=name, **fields)
    session.add(person)
    session.flush()
    return person, True


def revoke_links(session: Session, person_id: int) -> None:
    """Every code page link given out for this person stops working (links carry the version)."""
    session.execute(update(Person).where(Person.id == person_id).values(link_version=Person.link_version + 1),
                    execution_options={"synchronize_session": "fetch"})


def person_by_id(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("no such person")
    return person


def look_up(session: Session, vault: Vault, staff, id_type: str, number: str, **detail) -> Person:
    """The audited look-up by ID number (the caller commits the audit row, found or not):
    NotFound when nobody has it, and the same outside a community officer's districts (a
    different answer would tell them the number is registered); the audit row tells them apart."""
    person = find_person(session, vault, id_type, number)
    if person is None:
        audit.by_staff(session, staff, "person.lookup", None, found=False, id_masked=mask_id_number(number), **detail)
        raise NotFound("no person with this number")
    if not in_scope(staff, person.district):
        audit.by_staff(session, staff, "person.lookup", person.id, found=True, out_of_scope=True,
                       id_masked=mask_id_number(person.id_number), **detail)
        raise NotFound("no person with this number")
    audit.by_staff(session, staff, "person.lookup", person.id, found=True, id_masked=mask_id_number(person.id_number),
                   **detail)
    return person


def record(session: Session, person: Person) -> dict:
    """Everything the audited look-up shows: identity in full, the code and its history."""
    return {"id": person.id, "id_type": person.id_type, "id_number": person.id_number, "name": person.name,
            "phone": person.phone, "district": person.district, "code": code_dict(session.get(Code, person.id)),
            "history": history(session, person.id)}
