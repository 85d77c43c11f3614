"""Which chat accounts act as a person, and telling them when that changes.

A chat account is bound to an existing registered person only with proof: a code sent to the
phone on file, or a staff member who checked the person's document. Every account already bound
is told of a new one (a takeover is then seen at once by the real owner). Family bindings are
told to the member's own accounts too, and the member can revoke them with one reply.
"""
from __future__ import annotations

from sqlalchemy import select

from bot.domain import audit
from bot.domain.models import ChannelIdentity, FamilyBinding, Notice, Person
from bot.domain.people import revoke_links
from bot.domain.vocab import NoticeKind, NoticeStatus
from bot.infra.db import utcnow
from bot.infra.masking import mask_name, mask_phone


def tell_accounts(session, person_id: int, kind: str, payload: dict, *, except_identity: int | None = None) -> int:
    """A notice to every chat account of this person (but one); how many."""
    ids = session.scalars(select(ChannelIdentity.id).where(ChannelIdentity.person_id == person_id)).all()
    now = utcnow()
    told = 0
    for iid in ids:
        if iid != except_identity:
            session.add(Notice(person_id=person_id, identity_id=iid, kind=kind, payload=payload,
                               status=NoticeStatus.PENDING, attempts=0, created_at=now))
            told += 1
    return told


def listing(session, person_id: int) -> list[dict]:
    """The person's chat accounts as staff may see them: channel, following, last message."""
    rows = session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id == person_id)
                           .order_by(ChannelIdentity.id))
    return [{"channel": r.channel, "subscribed": r.subscribed, "last_inbound_at": r.last_inbound_at} for r in rows]


def bind_account(session, person: Person, *, channel: str, app_id: str, external_id: str, how: str,
                 staff=None) -> ChannelIdentity:
    """This chat account acts as `person` from now on (proof already checked: `how` is sms or
    staff); the person's other accounts are told."""
    row = session.scalar(select(ChannelIdentity).where(ChannelIdentity.channel == channel,
                                                       ChannelIdentity.app_id == app_id,
                                                       ChannelIdentity.external_id == external_id))
    if row is None:
        row = ChannelIdentity(channel=channel, app_id=app_id, external_id=external_id, subscribed=True,
                              push_consents={})
        session.add(row)
    row.person_id = person.id
    row.last_inbound_at = utcnow() if staff is None else row.last_inbound_at
    session.flush()
    tell_accounts(session, person.id, NoticeKind.ACCOUNT_BOUND, {"channel": channel, "how": how},
                  except_identity=row.id)
    if staff is None:
        audit.record(session, "account.bound", actor_kind="citizen", actor_id=person.id, subject_person_id=person.id,
                     channel=channel, how=how)
    else:
        audit.by_staff(session, staff, "account.bound", person.id, channel=channel, how=how)
    return row


def bindings_over(session, member_id: int) -> list[tuple[FamilyBinding, Person]]:
    """The active family bindings in which others act for this person, with who binds."""
    return session.execute(select(FamilyBinding, Person).join(Person, Person.id == FamilyBinding.owner_id)
                           .where(FamilyBinding.member_id == member_id, FamilyBinding.unbound_at.is_(None))
                           .order_by(FamilyBinding.id)).all()


def end_bindings_over(session, member: Person, kind: str, actor_kind: str, actor_id: int | None = None) -> list[dict]:
    """End every active binding over `member` and tell each binder's accounts (kind: why). The
    actor is the member unless given (a counter clerk)."""
    ended = []
    now = utcnow()
    for binding, owner in bindings_over(session, member.id):
        binding.unbound_at = now
        tell_accounts(session, owner.id, kind, {"member_masked": mask_name(member.name),
                                                 "relation": binding.relationship_kind})
        audit.record(session, "family.revoked" if kind == NoticeKind.FAMILY_REVOKED else "family.dropped",
                     actor_kind=actor_kind, actor_id=actor_id or member.id, subject_person_id=member.id,
                     binding_id=binding.id,
                     owner_id=owner.id)
        ended.append({"owner_masked": mask_name(owner.name), "relation": binding.relationship_kind})
    if ended:  # the links the binders were given for this person end too
        revoke_links(session, member.id)
    return ended


def change_phone(session, staff, person: Person, phone: str) -> None:
    """The phone on file, changed by a staff member who checked the person's document (a chat
    declaration never changes it); the person's accounts are told."""
    old = person.phone
    person.phone = phone
    audit.by_staff(session, staff, "person.phone_changed", person.id, old_masked=mask_phone(old) if old else None,
                   new_masked=mask_phone(phone))
    tell_accounts(session, person.id, NoticeKind.PHONE_CHANGED, {"phone_masked": mask_phone(phone)})
