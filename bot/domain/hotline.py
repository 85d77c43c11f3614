"""12345 appeals (seed 003): an operator files an appeal for a caller who cannot use the chat. The
operator checks the caller first: the name, the ID number and the last 4 digits of the phone on
file must all match. Every mismatch gets the same answer, so the hotline cannot be used to learn
whether a number is registered, or under what name. The caller gives a callback number. It is
sealed with the appeal, and the decision reaches it by SMS (workers/appeals.py, appeal.sms).
The person's chat accounts, if any, hear the decision as for any appeal.
"""
from __future__ import annotations

import hmac

from sqlalchemy import select

from bot.domain import audit
from bot.domain.appeals import file_appeal
from bot.domain.errors import Invalid
from bot.domain.models import Appeal
from bot.domain.people import find_person, id_hash, same_name
from bot.domain.vocab import Source
from bot.infra import attempts
from bot.infra.masking import mask_id_number


def file_for_caller(session, services, staff, *, name: str, id_type: str, id_number: str, phone_tail: str,
                    callback_phone: str, reason_code: int, description: str) -> Appeal:
    """The appeal filed (OpenAppeal when one is open already), or Invalid(identity) for any
    mismatch, audited either way. The caller commits.

    Four digits are guessable: 5 failed checks of one number in an hour lock it for caller
    checks for an hour (bot.infra.attempts, by any operator). A number nobody has counts and
    locks alike, so the lock tells nothing either."""
    hashed = id_hash(services.vault, id_type, id_number)
    if attempts.locked(services, "hotline", hashed):
        audit.by_staff(session, staff, "appeal.caller_unverified", None, id_masked=mask_id_number(id_number),
                       locked=True)
        raise Invalid("too many failed checks of this number: try again in an hour", errors={"identity": ["locked"]})
    person = find_person(session, services.vault, id_type, id_number)
    matches = (person is not None and same_name(person.name, name) and bool(person.phone)
               and hmac.compare_digest(person.phone[-4:], phone_tail))
    if not matches:
        attempts.failed(services, "hotline", hashed)
        audit.by_staff(session, staff, "appeal.caller_unverified", person.id if person else None,
                       id_masked=mask_id_number(id_number))
        raise Invalid("the caller's name, ID number and phone on file do not match",
                      errors={"identity": ["mismatch"]})
    return file_appeal(session, services.vault, person_id=person.id, filed_by_id=person.id, reason_code=reason_code,
                       description=description, staff=staff, callback_phone=callback_phone)


def filed_by(session, staff, limit: int = 20) -> list[Appeal]:
    """The appeals this operator filed, newest first (to tell a caller who rings again)."""
    return list(session.scalars(select(Appeal).where(Appeal.filed_by_staff_id == staff.id,
                                                     Appeal.source == Source.HOTLINE)
                                .order_by(Appeal.id.desc()).limit(limit)))
