"""The chat account's own actions: who it is (profile), its code and its family's (2 查看我的健康码),
following and unfollowing, the SMS check of a phone number."""
from __future__ import annotations

from sqlalchemy import select

from bot.chat import sms
from bot.chat.actions.common import code_view, identity, person_of, push_code_image, relation_word
from bot.chat.actions.registry import action
from bot.domain import audit
from bot.domain.models import ChannelIdentity, Code, FamilyBinding, Person
from bot.domain.people import revoke_links
from bot.infra.db import utcnow
from bot.infra.masking import id_tail, mask_name, mask_phone
from bot.infra.texts import LANGUAGES, SOURCE_LANGUAGE
from bot.infra.tokens import code_link


@action("profile")
def profile(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False}
    return {"registered": True, "name_masked": mask_name(person.name), "phone_masked": mask_phone(person.phone)}


@action("code_summary")
def code_summary(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False}
    return code_view(services, person, session.get(Code, person.id))


@action("my_code")
def my_code(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False, "family": []}
    view = code_view(services, person, session.get(Code, person.id))
    members = session.execute(
        select(Person, Code, FamilyBinding.relationship_kind)
        .join(FamilyBinding, FamilyBinding.member_id == Person.id)
        .outerjoin(Code, Code.person_id == Person.id)
        .where(FamilyBinding.owner_id == person.id, FamilyBinding.unbound_at.is_(None))
        .order_by(FamilyBinding.id)).all()
    view["family"] = [{"name_masked": mask_name(p.name), "relationship": relation_word(kind), "tail": id_tail(p.id_number),
                       "colour": c.colour if c else None} for p, c, kind in members]
    if "colour" in view:
        push_code_image(session, person.id, identity(session, msg).id, utcnow())
    return view


@action("code_link.reset")
def code_link_reset(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False}
    revoke_links(session, person.id)
    session.refresh(person)
    audit.record(session, "code_link.reset", actor_kind="citizen", actor_id=person.id, subject_person_id=person.id,
                 channel=msg.channel, link_version=person.link_version)
    return {"registered": True, "link": code_link(services.settings, person)}


@action("account.unbind_others")
def unbind_others(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False}
    me = identity(session, msg)
    others = session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id == person.id,
                                                           ChannelIdentity.id != me.id)).all()
    for row in others:
        row.person_id = None
    if others:
        revoke_links(session, person.id)
        session.refresh(person)
    audit.record(session, "account.unbound_others", actor_kind="citizen", actor_id=person.id,
                 subject_person_id=person.id, channel=msg.channel, count=len(others))
    return {"registered": True, "count": len(others), "link": code_link(services.settings, person)}


@action("subscribe")
def subscribe(services, session, msg, payload):
    identity(session, msg, create=True).subscribed = True
    return {}


@action("unsubscribe")
def unsubscribe(services, session, msg, payload):
    row = identity(session, msg)
    if row is not None:
        row.subscribed = False
    return {}


@action("sms.send")
def sms_send(services, session, msg, payload):
    return {"sent": sms.send_code(services, msg.conversation_key, payload.phone)}


@action("sms.verify")
def sms_verify(services, session, msg, payload):
    return {"ok": sms.check_code(services, msg.conversation_key, payload.phone, payload.code)}


@action("language")
def language(services, session, msg, payload):
    """国际版 / 中文: the language the account reads, kept with it (pushes use it too)."""
    chosen = payload["language"]
    if chosen not in LANGUAGES:
        raise ValueError(f"unknown language {chosen!r}")
    row = identity(session, msg, create=True)
    if row is None:  # a counter desk has no account: the clerk's console stays Chinese
        return {"language": SOURCE_LANGUAGE}
    row.language = None if chosen == SOURCE_LANGUAGE else chosen
    return {"language": chosen}
