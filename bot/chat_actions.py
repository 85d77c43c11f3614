"""The I/O the chat flows ask for (Act): each action runs in one database transaction.

An action gets (services, session, msg, payload) and returns a plain dict for the flow's next
step and its templates: masked values only, never a full name or number.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot import audit
from bot.codes import classify_origin, reevaluate, risk_table, more_severe
from bot.conversation.messages import Inbound
from bot.conversation.text import fold
from bot.db import SHANGHAI, utcnow
from bot.masking import mask_name
from bot.models import (CaseStatus, ChannelIdentity, Code, Declaration, FamilyBinding, Measure, Person, RiskArea,
                        TravelFact)
from bot.people import find_person, id_hash
from bot.tokens import code_link

ACTIONS = {}
# product.md question 7: what the answer means when the origin is not in the risk-area table
# (1 "中高风险地区" is taken as high: the safer reading when high and medium rules differ)
TRAVEL_CLASSES = {1: "high", 2: "risk_county", 3: "case_city"}


def action(name):
    def register(fn):
        ACTIONS[name] = fn
        return fn
    return register


def identity(session, msg: Inbound, create: bool = False) -> ChannelIdentity | None:
    row = session.scalar(select(ChannelIdentity).where(ChannelIdentity.channel == msg.channel,
                                                       ChannelIdentity.app_id == msg.app_id,
                                                       ChannelIdentity.external_id == msg.user))
    if row is None and create:
        row = ChannelIdentity(channel=msg.channel, app_id=msg.app_id, external_id=msg.user, subscribed=True)
        session.add(row)
        session.flush()
    return row


def _person(session, msg) -> Person | None:
    row = identity(session, msg)
    return session.get(Person, row.person_id) if row is not None and row.person_id else None


def code_view(services, person: Person, code: Code | None) -> dict:
    view = {"person_id": person.id, "name_masked": mask_name(person.name)}
    if code is not None:
        view.update(colour=code.colour, rule=code.rule, reason=code.reason, next_step=code.next_step,
                    since=code.since.isoformat(), version=code.version,
                    reevaluate_at=code.reevaluate_at.isoformat() if code.reevaluate_at else None,
                    link=code_link(services.settings, person.id))
    return view


@action("profile")
def profile(services, session, msg, payload):
    person = _person(session, msg)
    if person is None:
        return {"registered": False}
    return {"registered": True, "name_masked": mask_name(person.name)}


@action("code_summary")
def code_summary(services, session, msg, payload):
    person = _person(session, msg)
    if person is None:
        return {"registered": False}
    return code_view(services, person, session.get(Code, person.id))


@action("my_code")
def my_code(services, session, msg, payload):
    person = _person(session, msg)
    if person is None:
        return {"registered": False, "family": []}
    view = code_view(services, person, session.get(Code, person.id))
    members = session.execute(
        select(Person, Code, FamilyBinding.relationship_kind)
        .join(FamilyBinding, FamilyBinding.member_id == Person.id)
        .outerjoin(Code, Code.person_id == Person.id)
        .where(FamilyBinding.owner_id == person.id, FamilyBinding.unbound_at.is_(None))
        .order_by(FamilyBinding.id)).all()
    view["family"] = [{"name_masked": mask_name(p.name), "relationship": kind, "colour": c.colour if c else None}
                      for p, c, kind in members]
    return view


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
    from bot import sms

    return {"sent": sms.send_code(services, msg.conversation_key, payload["phone"])}


@action("sms.verify")
def sms_verify(services, session, msg, payload):
    from bot import sms

    return {"ok": sms.check_code(services, msg.conversation_key, payload["phone"], payload["code"])}


# -- the declaration ----------------------------------------------------------------------------

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


def register(session, services, msg, ident: ChannelIdentity, p: dict) -> Person | str:
    """The person behind this chat account: found by ID number (names must agree) or created
    (not flushed yet). Returns an error key when the number is someone else's account here."""
    person = find_person(session, services.vault, p["id_type"], p["id_number"])
    if person is None:
        person = Person(id_type=p["id_type"], id_hash=id_hash(services.vault, p["id_type"], p["id_number"]),
                        id_number=p["id_number"], name=p["name"], phone=p.get("phone"), registered=True)
        session.add(person)
    else:
        if fold(person.name).replace(" ", "") != fold(p["name"]).replace(" ", ""):
            return "name_mismatch"
        taken = session.scalar(select(ChannelIdentity.id).where(
            ChannelIdentity.person_id == person.id, ChannelIdentity.channel == msg.channel,
            ChannelIdentity.app_id == msg.app_id, ChannelIdentity.id != ident.id))
        if taken is not None and person.registered:
            return "id_taken"
        person.registered = True
        if p.get("phone"):
            person.phone = p["phone"]
    ident.person = person
    return person


@action("declare")
def declare(services, session, msg, p):
    """Registration (the first time), the declaration and the facts it states, the new code:
    the reads first, then the new rows in one flush, then the rules."""
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    key = f"{msg.conversation_key}:{p['key']}" if p.get("key") else None
    if key is not None:
        done = session.scalar(select(Declaration.person_id).where(Declaration.submission_key == key))
        if done is not None:  # this very message was handled before a crash: answer as then
            person = session.get(Person, done)
            return dict(code_view(services, person, session.get(Code, person.id)), ok=True)
    ident = identity(session, msg)
    if ident is None:
        ident = ChannelIdentity(channel=msg.channel, app_id=msg.app_id, external_id=msg.user, subscribed=True)
        session.add(ident)
    ident.last_inbound_at = now
    registered = ident.person_id is None
    if registered:
        if not p.get("id_number"):
            return {"error": "not_registered"}
        person = register(session, services, msg, ident, p)
        if isinstance(person, str):
            return {"error": person}
    else:
        person = session.get(Person, ident.person_id)

    decl = Declaration(submitted_by_id=None, channel=msg.channel,
                       overseas=bool(p["overseas"]), travel_answer=p["travel"], origin_text=p.get("origin"),
                       arrival_date=_day(p.get("arrival")), overseas_arrival=_day(p.get("overseas_arrival")),
                       symptoms=bool(p["symptoms"]), case_reported=bool(p.get("case")), case_status=p.get("case"),
                       measure_answer=_measure_answer(p.get("measure")), submission_key=key, declared_at=now)
    new = person.id is None
    session.flush()  # the person (when new) gets its id
    decl.person_id = decl.submitted_by_id = person.id
    store_declaration(session, person.id, decl, today, new=new)
    decision, change = reevaluate(session, services.policy, person.id, cause="declaration", now=now)
    audit.record(session, "declaration.submitted", actor_kind="citizen", actor_id=person.id,
                 subject_person_id=person.id, channel=msg.channel, registered=registered, colour=decision.colour,
                 rule=decision.rule)
    view = {"person_id": person.id, "name_masked": mask_name(person.name), "colour": decision.colour,
            "rule": decision.rule, "reason": decision.reason, "next_step": decision.next_step,
            "reevaluate_at": decision.reevaluate_at.isoformat() if decision.reevaluate_at else None,
            "link": code_link(services.settings, person.id), "ok": True,
            "first": change is not None and change.old_colour is None,
            "old_colour": change.old_colour if change else None}
    return view


def store_declaration(session, person_id: int, decl: Declaration, today: dt.date, new: bool = False) -> None:
    """The declaration and the facts it states: travel, a self-reported case status, a measure.

    Measures from declarations are the person's own word: a later declaration replaces them.
    Staff measures and case statuses are left alone; a self-reported case stays until staff
    release it (an appeal corrects a wrong answer). `new`: the person was created just now, so
    has no earlier facts to look at."""
    session.add(decl)
    if decl.overseas and decl.overseas_arrival:
        session.add(TravelFact(person_id=person_id, overseas=True, arrival=decl.overseas_arrival,
                               reported_on=today, source="declaration"))
    if decl.travel_answer in TRAVEL_CLASSES and decl.arrival_date:
        code = match_origin(session, decl.origin_text)
        stated = TRAVEL_CLASSES[decl.travel_answer]
        cls = more_severe(stated, classify_origin(code, risk_table(session))) if code else stated
        session.add(TravelFact(person_id=person_id, overseas=False, origin_class=cls, origin_code=code,
                               arrival=decl.arrival_date, reported_on=today, source="declaration"))
    if decl.case_status:
        active = None if new else session.scalar(select(CaseStatus.id).where(CaseStatus.person_id == person_id,
                                                            CaseStatus.status == decl.case_status,
                                                            CaseStatus.released_on.is_(None)))
        if active is None:
            session.add(CaseStatus(person_id=person_id, status=decl.case_status, since=today))
    kind = MEASURE_KINDS[decl.measure_answer - 1] if decl.measure_answer < 5 else None
    ongoing = [] if new else session.scalars(select(Measure).where(
        Measure.person_id == person_id, Measure.source == "declaration", Measure.ended_on.is_(None))).all()
    kept = False
    for m in ongoing:
        if m.kind == kind and not kept:
            kept = True
        else:
            m.ended_on = today
    if kind and not kept:
        session.add(Measure(person_id=person_id, kind=kind, start=today, source="declaration"))


MEASURE_KINDS = ("centralized_isolation", "home_isolation", "home_health_observation", "daily_health_monitoring")


def _measure_answer(kind: str | None) -> int:
    return MEASURE_KINDS.index(kind) + 1 if kind in MEASURE_KINDS else 5


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
