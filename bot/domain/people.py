"""Finding and creating people by ID number, through the keyed hash (never by plaintext)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.models import ID_TYPES, Person
from bot.infra.pii import Vault, normalise_id_number


def id_hash(vault: Vault, id_type: str, id_number: str) -> str:
    if id_type not in ID_TYPES:
        raise ValueError(f"id_type must be one of {', '.join(ID_TYPES)}")
    return vault.lookup_hash(id_type, normalise_id_number(id_number))


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
