"""What the chat actions share: the chat account and its person, the code as a reply shows it,
family bindings, the pushed code image, places typed in chat."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select

from bot.chat.conversation.messages import Inbound
from bot.chat.conversation.text import fold
from bot.domain.code_views import in_language, reason_in
from bot.domain.models import ChannelIdentity, Code, FamilyBinding, Notice, Person, RiskArea
from bot.domain.notices import nudge_after_commit
from bot.domain.vocab import NoticeKind, NoticeStatus, Relation, Source
from bot.infra.masking import id_tail, mask_name, pronoun
from bot.infra.texts import say
from bot.infra.tokens import code_link

INSERT_NOTICE = Notice.__table__.insert().inline()  # no RETURNING: the id is not read
# the same for the chat account that sent the message, found by the insert itself (an account
# created in this transaction: its id need not be read back first)
INSERT_NOTICE_TO_SENDER = INSERT_NOTICE.values(identity_id=select(ChannelIdentity.id).where(
    ChannelIdentity.channel == bindparam("sender_channel"), ChannelIdentity.app_id == bindparam("sender_app_id"),
    ChannelIdentity.external_id == bindparam("sender")).scalar_subquery())


def at_counter(msg: Inbound | None) -> tuple[int, int] | None:
    """(person id, staff id) when a counter clerk answers the flow for someone in person
    (bot.chat.counter): the message is theirs, and no chat account is behind it."""
    if msg is not None and msg.channel == Source.COUNTER:
        return msg.extra["person_id"], msg.extra["staff_id"]
    return None


def identity(session, msg: Inbound, create: bool = False) -> ChannelIdentity | None:
    if at_counter(msg):
        return None
    row = session.scalar(select(ChannelIdentity).where(ChannelIdentity.channel == msg.channel,
                                                       ChannelIdentity.app_id == msg.app_id,
                                                       ChannelIdentity.external_id == msg.user))
    if row is None and create:
        row = ChannelIdentity(channel=msg.channel, app_id=msg.app_id, external_id=msg.user, subscribed=True)
        session.add(row)
        session.flush()
    return row


def person_of(session, msg) -> Person | None:
    desk = at_counter(msg)
    if desk:
        return session.get(Person, desk[0])
    row = identity(session, msg)
    return session.get(Person, row.person_id) if row is not None and row.person_id else None


def code_view(services, person: Person, code: Code | None) -> dict:
    view = {"person_id": person.id, "name_masked": mask_name(person.name)}
    if code is not None:
        words = in_language(services.policy, code.colour, code.reason, code.next_step, code.wording)
        view.update(colour=code.colour, rule=code.rule, reason=words["reason"], next_step=words["next_step"],
                    since=code.since.isoformat(), version=code.version,
                    reevaluate_at=code.reevaluate_at.isoformat() if code.reevaluate_at else None,
                    green_at=code.green_at.isoformat() if code.green_at else None,
                    may=words["may"], link=code_link(services.settings, person))
    return view


def bound(session, owner_id: int, member_id: int) -> bool:
    return session.scalar(select(FamilyBinding.id).where(
        FamilyBinding.owner_id == owner_id, FamilyBinding.member_id == member_id,
        FamilyBinding.unbound_at.is_(None)).limit(1)) is not None


def push_code_image(session, person_id: int, identity_id: int | None, now, sender: Inbound | None = None) -> None:
    """A worker sends the code image into this chat once the transaction commits (identity_id
    None: the account of `sender`, the message's)."""
    values = {"person_id": person_id, "kind": NoticeKind.CODE_IMAGE, "payload": {}, "status": NoticeStatus.PENDING,
              "attempts": 0, "created_at": now}
    if identity_id is None:
        session.connection().execute(INSERT_NOTICE_TO_SENDER, dict(
            values, sender_channel=sender.channel, sender_app_id=sender.app_id, sender=sender.user))
    else:
        session.connection().execute(INSERT_NOTICE, dict(values, identity_id=identity_id))
    nudge_after_commit(session)


def match_origin(session, text: str | None) -> str | None:
    """A division code for what the user typed: the code itself, or the risk area whose name the
    text holds (the most specific one). None when the table does not know the place."""
    if not text:
        return None
    if text.isdigit():
        return text
    t = fold(text).replace(" ", "")
    best = None
    for code, name in session.execute(select(RiskArea.code, RiskArea.name)):
        n = fold(name).replace(" ", "")
        if n and n in t and (best is None or len(code) > len(best)):
            best = code
    return best


def relation_word(kind: str) -> str:
    return say("words.relation", relation=kind) if kind in tuple(Relation) else kind


def adult(person: Person, today: dt.date) -> bool:
    n = person.id_number or ""
    if person.id_type != "id_card" or len(n) != 18 or not n[6:14].isdigit():
        return True  # other documents carry no birth date: an account holder is taken as adult
    birth = dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    return (today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))) >= 18


def members(session, owner_id: int) -> list[dict]:
    rows = session.execute(select(FamilyBinding, Person, Code).join(Person, Person.id == FamilyBinding.member_id)
                           .outerjoin(Code, Code.person_id == Person.id)
                           .where(FamilyBinding.owner_id == owner_id, FamilyBinding.unbound_at.is_(None))
                           .order_by(FamilyBinding.id)).all()
    return [{"person_id": p.id, "binding_id": b.id, "name_masked": mask_name(p.name), "tail": id_tail(p.id_number),
             "pronoun": pronoun(p.id_type, p.id_number),
             "relationship": relation_word(b.relationship_kind),
             "colour": c.colour if c else None, "reason": reason_in(c.reason, c.wording) if c else None}
            for b, p, c in rows]
