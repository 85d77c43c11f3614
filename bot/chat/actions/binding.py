"""Binding this chat account to a person already registered on another account (the declare
flow's registration, when the ID number is someone's): proof by a code sent to the phone on
file, or a request code for staff. Failed attempts are audited and counted per ID number
(bot.chat.binding); the person's other accounts are told of a new one (bot.domain.accounts)."""
from __future__ import annotations

from sqlalchemy import select

from bot.chat import binding, sms
from bot.chat.actions.common import identity, person_of
from bot.chat.actions.registry import action
from bot.chat.conversation.text import fold
from bot.domain import audit
from bot.domain.accounts import bind_account, end_bindings_over
from bot.domain.models import Person
from bot.domain.people import id_hash
from bot.domain.vocab import NoticeKind
from bot.infra.masking import mask_id_number, mask_name, mask_phone


def _registered(services, session, p) -> tuple[str, Person | None]:
    hashed = id_hash(services.vault, p.id_type, p.id_number)
    person = session.scalar(select(Person).where(Person.id_hash == hashed))
    return hashed, (person if person is not None and person.registered else None)


def _failed(services, session, msg, hashed: str, person: Person, reason: str) -> bool:
    now_locked = binding.failed(services, hashed)
    audit.record(session, "account.bind_failed", actor_kind="citizen", subject_person_id=person.id,
                 channel=msg.channel, reason=reason, locked=now_locked, id_masked=mask_id_number(person.id_number))
    return now_locked


@action("identity.check")
def identity_check(services, session, msg, p):
    """Who this ID number is: nobody yet (new), created by a family member and not confirmed
    (unconfirmed: the owner's registration confirms it), or registered (proof needed)."""
    hashed = id_hash(services.vault, p.id_type, p.id_number)
    if binding.locked(services, hashed):
        return {"status": "locked"}
    person = session.scalar(select(Person).where(Person.id_hash == hashed))
    if person is None:
        return {"status": "new"}
    if not person.registered:
        return {"status": "unconfirmed"}
    mine = identity(session, msg)
    if mine is not None and mine.person_id == person.id:
        return {"status": "mine", "name_masked": mask_name(person.name)}
    if fold(person.name).replace(" ", "") != fold(p.name).replace(" ", ""):
        return {"status": "locked" if _failed(services, session, msg, hashed, person, "name") else "name_mismatch"}
    return {"status": "registered", "phone_masked": mask_phone(person.phone) if person.phone else None}


@action("identity.send_code")
def identity_send_code(services, session, msg, p):
    hashed, person = _registered(services, session, p)
    if person is None or not person.phone or binding.locked(services, hashed):
        return {"sent": False}
    return {"sent": sms.send_code(services, msg.conversation_key, person.phone)}


@action("identity.bind")
def identity_bind(services, session, msg, p):
    hashed, person = _registered(services, session, p)
    if person is None or binding.locked(services, hashed):
        return {"ok": False, "locked": True}
    if not person.phone or not sms.check_code(services, msg.conversation_key, person.phone, p.code):
        return {"ok": False, "locked": _failed(services, session, msg, hashed, person, "code")}
    bind_account(session, person, channel=msg.channel, app_id=msg.app_id, external_id=msg.user, how="sms")
    return {"ok": True, "name_masked": mask_name(person.name)}


@action("identity.request_staff")
def identity_request_staff(services, session, msg, p):
    hashed, person = _registered(services, session, p)
    if person is None or binding.locked(services, hashed):
        return {"code": None}
    code = binding.request_staff(services, person.id, msg.channel, msg.app_id, msg.user)
    audit.record(session, "account.bind_requested", actor_kind="citizen", subject_person_id=person.id,
                 channel=msg.channel)
    return {"code": code}


@action("family.revoke_over_me")
def family_revoke_over_me(services, session, msg, payload):
    """解除代办: every family binding in which others act for this account's person ends."""
    me = person_of(session, msg)
    if me is None:
        return {"registered": False}
    return {"registered": True, "ended": end_bindings_over(session, me, NoticeKind.FAMILY_REVOKED, "citizen")}
