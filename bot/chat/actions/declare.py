"""1 健康申报: registration the first time, the declaration and the facts it states (travel, a
self-reported case status, a measure with its days), the new code, its image pushed.

The confirm step is the slowest of a chat (quality.md: p99 100 ms): plain statements, built once
here as module constants (building one per call cost more than running it), reads first."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, update

from bot.chat.actions.common import at_counter, bound, code_view, match_origin, push_code_image
from bot.chat.actions.registry import action
from bot.chat.conversation.text import fold
from bot.domain import audit, counter
from bot.domain.code_views import in_language
from bot.domain.codes import classify_origin, facts_from_rows, more_severe, reevaluate, risk_table
from bot.domain.accounts import bindings_over, end_bindings_over
from bot.domain.models import CaseStatus, ChannelIdentity, Code, Measure, Person, TravelFact
from bot.domain.models.people import new_public_id
from bot.domain.models import Declaration as DeclarationRow
from bot.domain.people import home_district, id_hash
from bot.domain.vocab import MeasureKind, NoticeKind
from bot.infra.db import SHANGHAI, pipelined, utcnow
from bot.infra.masking import mask_name
from bot.infra.tokens import code_link
from handlers.declare import Declaration

b = bindparam
_ACCOUNT = (ChannelIdentity.channel == b("channel"), ChannelIdentity.app_id == b("app_id"),
            ChannelIdentity.external_id == b("user"))
_BY_HASH = Person.id_hash == b("hash")
# Everything the declaration reads before it writes, in one round trip (on PostgreSQL each
# statement is one: the confirm step went from 15 to 12 of them): this message's earlier
# submission (a retry), the chat account and its person's name, the person with this ID number.
READS = select(
    select(DeclarationRow.person_id).where(DeclarationRow.submission_key == b("key")).scalar_subquery().label("done"),
    select(ChannelIdentity.id).where(*_ACCOUNT).scalar_subquery().label("identity_id"),
    select(ChannelIdentity.person_id).where(*_ACCOUNT).scalar_subquery().label("person_id"),
    *(select(column).join(ChannelIdentity, ChannelIdentity.person_id == Person.id).where(*_ACCOUNT)
      .scalar_subquery().label(label) for column, label in ((Person.name, "name"), (Person.public_id, "public_id"),
                                                          (Person.link_version, "link_version"))),
    *(select(column).where(_BY_HASH).scalar_subquery().label(label) for column, label in (
        (Person.id, "found_id"), (Person.name, "found_name"), (Person.registered, "found_registered"),
        (Person.public_id, "found_public_id"), (Person.link_version, "found_link_version"))))
NAME = select(Person.name, Person.public_id, Person.link_version).where(Person.id == b("pid"))
TAKEN = select(ChannelIdentity.id).where(
    ChannelIdentity.person_id == b("pid"), ChannelIdentity.channel == b("channel"),
    ChannelIdentity.app_id == b("app_id"), ChannelIdentity.id != b("identity_id")).limit(1)
ACTIVE_CASE = select(CaseStatus.id).where(CaseStatus.person_id == b("pid"), CaseStatus.status == b("status"),
                                          CaseStatus.released_on.is_(None), CaseStatus.voided_at.is_(None))
OWN_MEASURES = select(Measure.id, Measure.kind, Measure.start, Measure.end).where(
    Measure.person_id == b("pid"), Measure.source == "declaration", Measure.ended_on.is_(None),
    Measure.voided_at.is_(None))
INSERT_PERSON = insert(Person)  # its id is read back
# inline: no RETURNING of the new row's id, which nobody reads (and so they may be pipelined)
INSERT_IDENTITY, INSERT_DECLARATION = insert(ChannelIdentity).inline(), insert(DeclarationRow).inline()
INSERT_TRAVEL, INSERT_CASE, INSERT_MEASURE = (insert(t).inline() for t in (TravelFact, CaseStatus, Measure))
BIND_IDENTITY = update(ChannelIdentity).where(ChannelIdentity.id == b("iid")).values(
    person_id=b("pid"), last_inbound_at=b("at"))
# product.md question 7: what the answer means when the origin is not in the risk-area table
# (1 "中高风险地区" is taken as high: the safer reading when high and medium rules differ)
TRAVEL_CLASSES = {1: "high", 2: "risk_county", 3: "case_city"}
MEASURE_KINDS = tuple(MeasureKind)


@action("declare")
def declare(services, session, msg, p: Declaration):
    """Registration (the first time), the declaration and the facts it states, the new code.
    Plain statements, reads first: this is the slowest step of a chat (quality.md: p99 100 ms)."""
    conn = session.connection()
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    key = f"{msg.conversation_key}:{p.key}" if p.key else None
    hashed = id_hash(services.vault, p.id_type, p.id_number) if p.id_number and p.id_type else None
    known = conn.execute(READS, {"key": key, "channel": msg.channel, "app_id": msg.app_id, "user": msg.user,
                                 "hash": hashed}).one()
    if known.done is not None:  # this very message was handled before a crash: answer as then
        person = session.get(Person, known.done)
        return dict(code_view(services, person, session.get(Code, person.id)), ok=True)
    ident = known if known.identity_id is not None else None
    new = False
    submitted_by = None
    registration = {}  # what confirming a family-created record adds to the reply
    desk = at_counter(msg)
    if desk:  # a counter clerk, for the person whose document they hold: no chat account is theirs
        person_id = desk[0]
        name, *link = conn.execute(NAME, {"pid": person_id}).one()
    elif p.for_person_id:  # 家人代办: a declaration about a bound family member
        owner = known.person_id
        if owner is None or not bound(session, owner, p.for_person_id):
            return {"error": "not_bound"}
        person_id, submitted_by = p.for_person_id, owner
        name, *link = conn.execute(NAME, {"pid": person_id}).one()
    elif known.person_id is not None:
        person_id, name, link = known.person_id, known.name, (known.public_id, known.link_version)
    elif hashed is None:
        return {"error": "not_registered"}
    else:
        found = register(session, msg, known, hashed, p)
        if isinstance(found, str):
            return {"error": found}
        person_id, new, link, registration = found
        name = p.name
    account = []  # a new chat account is written with the rest (the code image finds it by itself)
    if desk:
        identity_id = None
    elif ident is None:
        identity_id = None
        account.append((INSERT_IDENTITY, {
            "channel": msg.channel, "app_id": msg.app_id, "external_id": msg.user, "person_id": person_id,
            "subscribed": True, "last_inbound_at": now, "push_consents": {}, "created_at": now}))
    elif submitted_by is None:
        identity_id = ident.identity_id
        conn.execute(BIND_IDENTITY, {"iid": identity_id, "pid": person_id, "at": now})
    else:
        identity_id = ident.identity_id
    decl = dict(person_id=person_id, submitted_by_id=submitted_by or person_id, channel=msg.channel,
                overseas=p.overseas, travel_answer=p.travel, origin_text=p.origin, arrival_date=p.arrival,
                overseas_arrival=p.overseas_arrival, symptoms=p.symptoms, case_reported=bool(p.case),
                case_status=p.case, measure_answer=_measure_answer(p.measure), submission_key=key, declared_at=now,
                staff_id=desk[1] if desk else None)
    writes, rows = plan_declaration(session, decl, today, new=new, measure_days=(p.measure_start, p.measure_end))
    # someone registered a moment ago has no facts but these: no need to read them back, and
    # nothing left to read, so the rest is inserts sent in one go (PostgreSQL: 7 round trips to 1)
    facts = facts_from_rows(rows, lambda: risk_table(session)).get(person_id, {}) if new else None
    with pipelined(session, enabled=new):
        for statement, values in account + writes:
            conn.execute(statement, values)
        decision, change = reevaluate(session, services.policy, person_id, cause="declaration", now=now,
                                      first=new, facts=facts, told=identity_id)
        if desk:  # the person's own chat accounts hear of it; the clerk prints the code
            told = counter.declared(session, person_id)
            audit.record(session, "declaration.submitted", actor_kind="staff", actor_id=desk[1],
                         subject_person_id=person_id, channel=msg.channel, colour=decision.colour, rule=decision.rule)
        else:
            push_code_image(session, person_id, identity_id, now, sender=msg)
            audit.record(session, "family.declared" if submitted_by else "declaration.submitted",
                         actor_kind="citizen", actor_id=submitted_by or person_id, subject_person_id=person_id,
                         channel=msg.channel, registered=known.person_id is None, colour=decision.colour,
                         rule=decision.rule)
    words = in_language(services.policy, decision.colour, decision.reason, decision.next_step, decision.wording)
    return {**registration, "person_id": person_id, "name_masked": mask_name(name), "colour": decision.colour,
            "rule": decision.rule, "reason": words["reason"], "next_step": words["next_step"],
            "reevaluate_at": decision.reevaluate_at.isoformat() if decision.reevaluate_at else None,
            "green_at": decision.green_at.isoformat() if decision.green_at else None,
            "may": words["may"],
            "link": code_link(services.settings, Link(*link)), "ok": True,
            "first": change is not None and change.old_colour is None,
            "old_colour": change.old_colour if change else None, **({"accounts_told": told} if desk else {})}


class Link(NamedTuple):
    public_id: str
    link_version: int


def register(session, msg, known, hashed: str, p: Declaration) -> tuple[int, bool, tuple[str, int], dict] | str:
    """The person behind this chat account, found by ID number (`known`: READS' row) or created:
    (person id, created, (public id, link version), what the reply should add). An error key
    when the number is registered already: binding to that person needs proof first
    (identity.bind), and never replaces the phone on file.

    A person a family member created is unconfirmed until they register: their registration
    (the name and phone they give) confirms or corrects the record and wins. Bindings made under
    another name are dropped and their accounts told; the rest are shown to the owner, who can
    revoke them with one reply."""
    conn = session.connection()
    if known.found_id is None:
        now = utcnow()
        public_id = new_public_id()
        pid = conn.execute(INSERT_PERSON, {
            "id_type": p.id_type, "id_hash": hashed, "id_number": p.id_number, "name": p.name,
            "nationality": p.nationality, "public_id": public_id, "link_version": 1,
            "phone": p.phone, "registered": True, "created_at": now, "updated_at": now,
            "district": home_district(p.id_type, p.id_number)}).inserted_primary_key[0]
        return pid, True, (public_id, 1), {}
    if known.found_registered:
        return "bind_needed"
    taken = conn.execute(TAKEN, {"pid": known.found_id, "channel": msg.channel, "app_id": msg.app_id,
                                 "identity_id": known.identity_id or 0}).first()
    if taken is not None:
        return "id_taken"
    person = session.get(Person, known.found_id)
    extra = {}
    if fold(person.name).replace(" ", "") != fold(p.name).replace(" ", ""):
        end_bindings_over(session, person, NoticeKind.FAMILY_DROPPED, "citizen")  # told under the name they typed
        extra["corrected"] = True
        person.name = p.name
    else:
        extra["bound_by"] = [{"owner_masked": mask_name(owner.name), "relation": b.relationship_kind}
                             for b, owner in bindings_over(session, person.id)]
    person.registered, person.phone, person.updated_at = True, p.phone, utcnow()
    person.nationality = p.nationality or person.nationality
    audit.record(session, "person.confirmed", actor_kind="citizen", actor_id=person.id, subject_person_id=person.id,
                 corrected=bool(extra.get("corrected")), channel=msg.channel)
    session.flush()
    return person.id, False, (person.public_id, person.link_version), extra


def plan_declaration(session, decl: dict, today: dt.date, new: bool = False,
                     measure_days: tuple[dt.date | None, dt.date | None] = (None, None)) -> tuple[list, dict]:
    """The declaration and the facts it states: travel, a self-reported case status, a measure
    (from its start day, to its end when known; the policy's default length otherwise). Reads
    only: returns the writes (statement, values) and the rows they make, shaped as
    bot.domain.codes reads facts.

    Measures from declarations are the person's own word: a later declaration replaces them.
    Staff measures and case statuses are left alone; a self-reported case stays until staff
    release it (an appeal corrects a wrong answer). `new`: the person was created just now, so
    has no earlier facts to look at."""
    conn = session.connection()
    pid = decl["person_id"]
    now = decl["declared_at"]
    writes = [(INSERT_DECLARATION, decl)]
    rows = {"symptoms": [(pid, decl["symptoms"], now)], "travel": [], "case": [], "measures": []}
    facts = dict(person_id=pid, reported_on=today, source="declaration", created_at=now, recorded_at=now)
    if decl["overseas"] and decl["overseas_arrival"]:
        writes.append((INSERT_TRAVEL, dict(facts, overseas=True, arrival=decl["overseas_arrival"],
                                           origin_class=None, origin_code=None)))
        rows["travel"].append((pid, True, None, None, decl["overseas_arrival"], today, now))
    if decl["travel_answer"] in TRAVEL_CLASSES and decl["arrival_date"]:
        code = match_origin(session, decl["origin_text"])
        stated = TRAVEL_CLASSES[decl["travel_answer"]]
        cls = more_severe(stated, classify_origin(code, risk_table(session))) if code else stated
        writes.append((INSERT_TRAVEL, dict(facts, overseas=False, arrival=decl["arrival_date"],
                                           origin_class=cls, origin_code=code)))
        rows["travel"].append((pid, False, cls, code, decl["arrival_date"], today, now))
        rows["travel"].sort(key=lambda r: r[4])  # arrival order, as when read back
    status = decl["case_status"]
    if status and (new or conn.execute(ACTIVE_CASE, {"pid": pid, "status": status}).first() is None):
        writes.append((INSERT_CASE, {"person_id": pid, "status": status, "since": today, "created_at": now,
                                     "recorded_at": now}))
        rows["case"].append((pid, status, today, None, now))
    kind = MEASURE_KINDS[decl["measure_answer"] - 1] if decl["measure_answer"] < 5 else None
    start, end = measure_days[0] or today, measure_days[1]
    ongoing = [] if new else conn.execute(OWN_MEASURES, {"pid": pid}).all()
    kept = next((m for m in ongoing if m.kind == kind), None)
    ended = [m.id for m in ongoing if m is not kept]
    if ended:
        writes.append((update(Measure).where(Measure.id.in_(ended)).values(ended_on=today, updated_at=now), None))
    if kept is not None and (kept.start, kept.end) != (start, end):  # the same measure, its days corrected
        writes.append((update(Measure).where(Measure.id == kept.id).values(start=start, end=end, updated_at=now,
                                                                           recorded_at=now), None))
    elif kind and kept is None:
        writes.append((INSERT_MEASURE, {"person_id": pid, "kind": kind, "start": start, "end": end,
                                        "source": "declaration", "created_at": now, "updated_at": now,
                                        "recorded_at": now}))
        rows["measures"].append((pid, kind, start, end, None, now))
    return writes, rows


def _measure_answer(kind: str | None) -> int:
    return MEASURE_KINDS.index(kind) + 1 if kind in MEASURE_KINDS else 5
