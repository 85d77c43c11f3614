"""3 家人代办: list, view, add and unbind family members (the declaration for a member is the
`declare` action). Every proxy action is audited."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.chat.actions.common import (adult, bound, code_view, identity, members, person_of,
                                     push_code_image, relation_word)
from bot.chat.actions.registry import action
from bot.chat.conversation.text import fold
from bot.domain import audit
from bot.domain.accounts import tell_accounts
from bot.domain.models import Code, FamilyBinding, Person
from bot.domain.people import find_person, get_or_create_person, home_district, revoke_links
from bot.domain.vocab import IdType, NoticeKind
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import id_tail, mask_id_number, mask_name, pronoun

MAX_MEMBERS = 10      # family members per account
MAX_GUARDIANS = 3     # accounts per member


@action("family.list")
def family_list(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False}
    return {"registered": True, "adult": adult(person, utcnow().astimezone(SHANGHAI).date()),
            "members": members(session, person.id)}


@action("family.view")
def family_view(services, session, msg, payload):
    owner = person_of(session, msg)
    listed = members(session, owner.id)
    ident = identity(session, msg)
    for m in listed:
        m["link"] = code_view(services, session.get(Person, m["person_id"]), session.get(Code, m["person_id"])).get("link")
        if m["colour"]:
            push_code_image(session, m["person_id"], ident.id, utcnow())
        audit.record(session, "family.viewed", actor_kind="citizen", actor_id=owner.id, subject_person_id=m["person_id"])
    return {"members": listed}


def _refusal(session, vault, owner, p) -> tuple[str | None, Person | None]:
    """Why this member cannot be added (an error key, or None), and the person if known."""
    if owner is None:
        return "not_registered", None
    member = find_person(session, vault, IdType.ID_CARD, p.id_number)
    if member is not None and member.id == owner.id:
        return "self", member
    active = session.scalar(select(func.count()).select_from(FamilyBinding).where(
        FamilyBinding.owner_id == owner.id, FamilyBinding.unbound_at.is_(None)))
    if active >= MAX_MEMBERS:
        return "too_many_members", member
    if member is not None:
        if fold(member.name).replace(" ", "") != fold(p.name).replace(" ", ""):
            return "name_mismatch", member
        if bound(session, owner.id, member.id):
            return "already_bound", member
        guardians = session.scalar(select(func.count()).select_from(FamilyBinding).where(
            FamilyBinding.member_id == member.id, FamilyBinding.unbound_at.is_(None)))
        if guardians >= MAX_GUARDIANS:
            return "too_many_accounts", member
    return None, member


@action("family.check")
def family_check(services, session, msg, p):
    """The refusals family.add would give, asked before the consent question."""
    error, _ = _refusal(session, services.vault, person_of(session, msg), p)
    return {"error": error} if error else {}


@action("family.add")
def family_add(services, session, msg, p):
    owner = person_of(session, msg)
    error, member = _refusal(session, services.vault, owner, p)
    if error:
        return {"error": error}
    minor = p.age is not None and p.age < 14
    if minor and (p.relation != "child" or not adult(owner, utcnow().astimezone(SHANGHAI).date())):
        return {"error": "guardian_not_adult"}
    if not minor and not p.consent:
        return {"error": "consent_needed"}
    if member is None:
        member, _ = get_or_create_person(session, services.vault, IdType.ID_CARD, p.id_number, p.name,
                                         district=home_district(IdType.ID_CARD, p.id_number))
    now = utcnow()
    session.add(FamilyBinding(owner_id=owner.id, member_id=member.id, relationship_kind=p.relation,
                              guardian=minor, consent_at=None if minor else now))
    audit.record(session, "family.added", actor_kind="citizen", actor_id=owner.id, subject_person_id=member.id,
                 relationship=p.relation, minor=minor, consent=bool(p.consent),
                 id_masked=mask_id_number(p.id_number))
    if member.registered and not minor:  # consent was the binder's word: the member hears of it, and can undo it
        tell_accounts(session, member.id, NoticeKind.FAMILY_ADDED_YOU,
                      {"owner_masked": mask_name(owner.name), "relation": p.relation})
    code = session.get(Code, member.id)
    return {"name_masked": mask_name(member.name), "relationship": relation_word(p.relation), "tail": id_tail(p.id_number),
            "pronoun": pronoun(IdType.ID_CARD, p.id_number),
            "colour": code.colour if code else None}


@action("family.unbind")
def family_unbind(services, session, msg, p):
    owner = person_of(session, msg)
    rows = session.scalars(select(FamilyBinding).where(FamilyBinding.owner_id == owner.id,
                                                       FamilyBinding.member_id == p.person_id,
                                                       FamilyBinding.unbound_at.is_(None))).all()
    for b in rows:
        b.unbound_at = utcnow()
    if rows:  # the links the owner was given for them die with the binding
        revoke_links(session, p.person_id)
    audit.record(session, "family.unbound", actor_kind="citizen", actor_id=owner.id, subject_person_id=p.person_id)
    return {"ok": bool(rows)}
