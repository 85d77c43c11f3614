"""The I/O the chat flows ask for (Act): each action runs in one database transaction.

An action gets (services, session, msg, payload) and returns a plain dict for the flow's next
step and its templates: masked values only, never a full name or number.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy import bindparam, insert, select, update

from bot.domain import audit
from bot.domain.codes import classify_origin, facts_from_rows, more_severe, reevaluate, risk_table
from bot.chat.conversation.messages import Inbound
from bot.chat.conversation.text import fold
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import mask_name, mask_phone
from bot.domain.models import (CaseStatus, ChannelIdentity, Code, Declaration, FamilyBinding, Measure, Notice, Person, RiskArea,
                        TravelFact)
from bot.domain.people import id_hash
from bot.infra.tokens import code_link

ACTIONS = {}


@lru_cache(maxsize=1)
def _sql() -> dict:
    """The declaration's statements, built once: building one per call cost more than running it."""
    b = bindparam
    return {
        "done": select(Declaration.person_id).where(Declaration.submission_key == b("key")),
        "identity": select(ChannelIdentity.id, ChannelIdentity.person_id).where(
            ChannelIdentity.channel == b("channel"), ChannelIdentity.app_id == b("app_id"),
            ChannelIdentity.external_id == b("user")),
        "name": select(Person.name).where(Person.id == b("pid")),
        "by_hash": select(Person.id, Person.name, Person.registered).where(Person.id_hash == b("hash")),
        "taken": select(ChannelIdentity.id).where(
            ChannelIdentity.person_id == b("pid"), ChannelIdentity.channel == b("channel"),
            ChannelIdentity.app_id == b("app_id"), ChannelIdentity.id != b("identity_id")).limit(1),
        "active_case": select(CaseStatus.id).where(CaseStatus.person_id == b("pid"), CaseStatus.status == b("status"),
                                                   CaseStatus.released_on.is_(None), CaseStatus.voided_at.is_(None)),
        "own_measures": select(Measure.id, Measure.kind, Measure.start, Measure.end).where(
            Measure.person_id == b("pid"), Measure.source == "declaration", Measure.ended_on.is_(None),
            Measure.voided_at.is_(None)),
        "insert_person": insert(Person), "insert_identity": insert(ChannelIdentity), "insert_notice": insert(Notice),
        "insert_declaration": insert(Declaration), "insert_travel": insert(TravelFact),
        "insert_case": insert(CaseStatus), "insert_measure": insert(Measure),
        "bind_identity": update(ChannelIdentity).where(ChannelIdentity.id == b("iid")).values(
            person_id=b("pid"), last_inbound_at=b("at")),
    }
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
                    green_at=code.green_at.isoformat() if code.green_at else None,
                    may=services.policy.wording["may"][code.colour], link=code_link(services.settings, person.id))
    return view


@action("profile")
def profile(services, session, msg, payload):
    person = _person(session, msg)
    if person is None:
        return {"registered": False}
    return {"registered": True, "name_masked": mask_name(person.name), "phone_masked": mask_phone(person.phone)}


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
    if "colour" in view:
        push_code_image(session, person.id, identity(session, msg).id, utcnow())
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
    from bot.chat.service import sms

    return {"sent": sms.send_code(services, msg.conversation_key, payload["phone"])}


@action("sms.verify")
def sms_verify(services, session, msg, payload):
    from bot.chat.service import sms

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


@action("declare")
def declare(services, session, msg, p):
    """Registration (the first time), the declaration and the facts it states, the new code.
    Plain statements, reads first: this is the slowest step of a chat (quality.md: p99 100 ms)."""
    conn = session.connection()
    q = _sql()
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    key = f"{msg.conversation_key}:{p['key']}" if p.get("key") else None
    if key is not None:
        done = conn.execute(q["done"], {"key": key}).scalar()
        if done is not None:  # this very message was handled before a crash: answer as then
            person = session.get(Person, done)
            return dict(code_view(services, person, session.get(Code, person.id)), ok=True)
    ident = conn.execute(q["identity"], {"channel": msg.channel, "app_id": msg.app_id, "user": msg.user}).first()
    new = False
    submitted_by = None
    if p.get("for_person_id"):  # 家人代办: a declaration about a bound family member
        owner = ident.person_id if ident is not None else None
        if owner is None or not bound(session, owner, p["for_person_id"]):
            return {"error": "not_bound"}
        person_id, submitted_by = p["for_person_id"], owner
        name = conn.execute(q["name"], {"pid": person_id}).scalar()
    elif ident is not None and ident.person_id is not None:
        person_id = ident.person_id
        name = conn.execute(q["name"], {"pid": person_id}).scalar()
    elif not p.get("id_number"):
        return {"error": "not_registered"}
    else:
        found = register(conn, services, msg, ident.id if ident else None, p)
        if isinstance(found, str):
            return {"error": found}
        person_id, new = found
        name = p["name"]
    if ident is None:
        identity_id = conn.execute(q["insert_identity"], {
            "channel": msg.channel, "app_id": msg.app_id, "external_id": msg.user, "person_id": person_id,
            "subscribed": True, "last_inbound_at": now, "push_consents": {}, "created_at": now}).inserted_primary_key[0]
    elif submitted_by is None:
        identity_id = ident.id
        conn.execute(q["bind_identity"], {"iid": ident.id, "pid": person_id, "at": now})
    else:
        identity_id = ident.id
    decl = dict(person_id=person_id, submitted_by_id=submitted_by or person_id, channel=msg.channel, overseas=bool(p["overseas"]),
                travel_answer=p["travel"], origin_text=p.get("origin"), arrival_date=_day(p.get("arrival")),
                overseas_arrival=_day(p.get("overseas_arrival")), symptoms=bool(p["symptoms"]),
                case_reported=bool(p.get("case")), case_status=p.get("case"),
                measure_answer=_measure_answer(p.get("measure")), submission_key=key, declared_at=now)
    rows = store_declaration(session, decl, today, new=new,
                             measure_days=(_day(p.get("measure_start")), _day(p.get("measure_end"))))
    # someone registered a moment ago has no facts but these: no need to read them back
    facts = facts_from_rows(rows, lambda: risk_table(session)).get(person_id, {}) if new else None
    decision, change = reevaluate(session, services.policy, person_id, cause="declaration", now=now, first=new,
                                  facts=facts)
    push_code_image(session, person_id, identity_id, now)
    audit.record(session, "family.declared" if submitted_by else "declaration.submitted", actor_kind="citizen",
                 actor_id=submitted_by or person_id, subject_person_id=person_id, channel=msg.channel,
                 registered=ident is None or ident.person_id is None,
                 colour=decision.colour, rule=decision.rule)
    return {"person_id": person_id, "name_masked": mask_name(name), "colour": decision.colour,
            "rule": decision.rule, "reason": decision.reason, "next_step": decision.next_step,
            "reevaluate_at": decision.reevaluate_at.isoformat() if decision.reevaluate_at else None,
            "green_at": decision.green_at.isoformat() if decision.green_at else None,
            "may": services.policy.wording["may"][decision.colour],
            "link": code_link(services.settings, person_id), "ok": True,
            "first": change is not None and change.old_colour is None,
            "old_colour": change.old_colour if change else None}


def bound(session, owner_id: int, member_id: int) -> bool:
    return session.scalar(select(FamilyBinding.id).where(
        FamilyBinding.owner_id == owner_id, FamilyBinding.member_id == member_id,
        FamilyBinding.unbound_at.is_(None)).limit(1)) is not None


def push_code_image(session, person_id: int, identity_id: int, now) -> None:
    """A worker sends the code image into this chat once the transaction commits."""
    from bot.domain.notices import nudge_after_commit

    session.connection().execute(_sql()["insert_notice"], {
        "person_id": person_id, "identity_id": identity_id, "kind": "code_image", "payload": {},
        "status": "pending", "attempts": 0, "created_at": now})
    nudge_after_commit(session)


def home_district(id_type: str, number: str) -> str | None:
    """The district of household registration an ID card number starts with (community staff's
    scope) until an arrival report says where the person stays."""
    return number[:6] if id_type == "id_card" and number[:6].isdigit() else None


def register(conn, services, msg, identity_id: int | None, p: dict) -> tuple[int, bool] | str:
    """The person behind this chat account, found by ID number (names must agree) or created:
    (person id, created). An error key when the number is someone else's account here."""
    hashed = id_hash(services.vault, p["id_type"], p["id_number"])
    q = _sql()
    found = conn.execute(q["by_hash"], {"hash": hashed}).first()
    if found is None:
        now = utcnow()
        pid = conn.execute(q["insert_person"], {
            "id_type": p["id_type"], "id_hash": hashed, "id_number": p["id_number"], "name": p["name"],
            "phone": p.get("phone"), "registered": True, "created_at": now, "updated_at": now,
            "district": home_district(p["id_type"], p["id_number"])}).inserted_primary_key[0]
        return pid, True
    if fold(found.name).replace(" ", "") != fold(p["name"]).replace(" ", ""):
        return "name_mismatch"
    taken = conn.execute(q["taken"], {"pid": found.id, "channel": msg.channel, "app_id": msg.app_id,
                                      "identity_id": identity_id or 0}).first()
    if taken is not None and found.registered:
        return "id_taken"
    values = {"registered": True, "updated_at": utcnow()}
    if p.get("phone"):
        values["phone"] = p["phone"]
    conn.execute(update(Person).where(Person.id == found.id).values(**values))
    return found.id, False


def store_declaration(session, decl: dict, today: dt.date, new: bool = False,
                      measure_days: tuple[dt.date | None, dt.date | None] = (None, None)) -> dict:
    """The declaration and the facts it states: travel, a self-reported case status, a measure
    (from its start day, to its end when known; the policy's default length otherwise).

    Measures from declarations are the person's own word: a later declaration replaces them.
    Staff measures and case statuses are left alone; a self-reported case stays until staff
    release it (an appeal corrects a wrong answer). `new`: the person was created just now, so
    has no earlier facts to look at. Returns the rows written, shaped as bot.domain.codes reads facts."""
    conn = session.connection()
    q = _sql()
    pid = decl["person_id"]
    now = decl["declared_at"]
    conn.execute(q["insert_declaration"], decl)
    rows = {"symptoms": [(pid, decl["symptoms"], now)], "travel": [], "case": [], "measures": []}
    facts = dict(person_id=pid, reported_on=today, source="declaration", created_at=now, recorded_at=now)
    if decl["overseas"] and decl["overseas_arrival"]:
        conn.execute(q["insert_travel"], dict(facts, overseas=True, arrival=decl["overseas_arrival"],
                                              origin_class=None, origin_code=None))
        rows["travel"].append((pid, True, None, None, decl["overseas_arrival"], today, now))
    if decl["travel_answer"] in TRAVEL_CLASSES and decl["arrival_date"]:
        code = match_origin(session, decl["origin_text"])
        stated = TRAVEL_CLASSES[decl["travel_answer"]]
        cls = more_severe(stated, classify_origin(code, risk_table(session))) if code else stated
        conn.execute(q["insert_travel"], dict(facts, overseas=False, arrival=decl["arrival_date"],
                                              origin_class=cls, origin_code=code))
        rows["travel"].append((pid, False, cls, code, decl["arrival_date"], today, now))
        rows["travel"].sort(key=lambda r: r[4])  # arrival order, as when read back
    status = decl["case_status"]
    if status and (new or conn.execute(q["active_case"], {"pid": pid, "status": status}).first() is None):
        conn.execute(q["insert_case"], {"person_id": pid, "status": status, "since": today, "created_at": now,
                                        "recorded_at": now})
        rows["case"].append((pid, status, today, None, now))
    kind = MEASURE_KINDS[decl["measure_answer"] - 1] if decl["measure_answer"] < 5 else None
    start, end = measure_days[0] or today, measure_days[1]
    ongoing = [] if new else conn.execute(q["own_measures"], {"pid": pid}).all()
    kept = next((m for m in ongoing if m.kind == kind), None)
    ended = [m.id for m in ongoing if m is not kept]
    if ended:
        conn.execute(update(Measure).where(Measure.id.in_(ended)).values(ended_on=today, updated_at=now))
    if kept is not None and (kept.start, kept.end) != (start, end):  # the same measure, its days corrected
        conn.execute(update(Measure).where(Measure.id == kept.id).values(start=start, end=end, updated_at=now,
                                                                          recorded_at=now))
    elif kind and kept is None:
        conn.execute(q["insert_measure"], {"person_id": pid, "kind": kind, "start": start, "end": end,
                                           "source": "declaration", "created_at": now, "updated_at": now,
                                           "recorded_at": now})
        rows["measures"].append((pid, kind, start, end, None, now))
    return rows


MEASURE_KINDS = ("centralized_isolation", "home_isolation", "home_health_observation", "daily_health_monitoring")


def _measure_answer(kind: str | None) -> int:
    return MEASURE_KINDS.index(kind) + 1 if kind in MEASURE_KINDS else 5


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


from bot.chat.actions import family as proxy_actions  # noqa: E402  (family, appeal, pass and arrival actions register here)

PROXY_ACTIONS = proxy_actions
