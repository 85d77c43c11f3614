"""Chat actions of the family, appeal, limited-pass and arrival-report flows (the only I/O those
handlers do). Registered into bot.chat.actions.declare.ACTIONS; every proxy action is audited."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.domain import appeals as appeal_rules
from bot.domain import audit
from bot.infra import outbox
from bot.chat.actions.declare import _person, action, bound, code_view, home_district, identity, match_origin, push_code_image
from bot.domain.codes import classify_origin, reevaluate, risk_table
from bot.chat.conversation.text import fold
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.masking import mask_id_number, mask_name
from bot.domain.models import Appeal, AppealEvidence, ArrivalReport, Code, FamilyBinding, LimitedPass, Person, TravelFact
from bot.domain.notices import schedule_pass_ending
from bot.domain.people import find_person, get_or_create_person
from bot.infra.texts import say

MAX_MEMBERS = 10      # family members per account
MAX_GUARDIANS = 3     # accounts per member
RELATIONS = ("child", "parent", "spouse", "grandparent", "other")


def relation_word(kind: str) -> str:
    return say("words.relation", relation=kind) if kind in RELATIONS else kind


def _adult(person: Person, today: dt.date) -> bool:
    n = person.id_number or ""
    if person.id_type != "id_card" or len(n) != 18 or not n[6:14].isdigit():
        return True  # other documents carry no birth date: an account holder is taken as adult
    birth = dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    return (today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))) >= 18


def _members(session, owner_id: int) -> list[dict]:
    rows = session.execute(select(FamilyBinding, Person, Code).join(Person, Person.id == FamilyBinding.member_id)
                           .outerjoin(Code, Code.person_id == Person.id)
                           .where(FamilyBinding.owner_id == owner_id, FamilyBinding.unbound_at.is_(None))
                           .order_by(FamilyBinding.id)).all()
    return [{"person_id": p.id, "binding_id": b.id, "name_masked": mask_name(p.name),
             "relationship": relation_word(b.relationship_kind),
             "colour": c.colour if c else None, "reason": c.reason if c else None} for b, p, c in rows]


# -- 3 family ------------------------------------------------------------------------------------

@action("family.list")
def family_list(services, session, msg, payload):
    person = _person(session, msg)
    if person is None:
        return {"registered": False}
    return {"registered": True, "adult": _adult(person, utcnow().astimezone(SHANGHAI).date()),
            "members": _members(session, person.id)}


@action("family.view")
def family_view(services, session, msg, payload):
    owner = _person(session, msg)
    members = _members(session, owner.id)
    ident = identity(session, msg)
    for m in members:
        m["link"] = code_view(services, session.get(Person, m["person_id"]), session.get(Code, m["person_id"])).get("link")
        if m["colour"]:
            push_code_image(session, m["person_id"], ident.id, utcnow())
        audit.record(session, "family.viewed", actor_kind="citizen", actor_id=owner.id, subject_person_id=m["person_id"])
    return {"members": members}


@action("family.add")
def family_add(services, session, msg, p):
    owner = _person(session, msg)
    if owner is None:
        return {"error": "not_registered"}
    member = find_person(session, services.vault, "id_card", p["id_number"])
    if member is not None and member.id == owner.id:
        return {"error": "self"}
    active = session.scalar(select(func.count()).select_from(FamilyBinding).where(
        FamilyBinding.owner_id == owner.id, FamilyBinding.unbound_at.is_(None)))
    if active >= MAX_MEMBERS:
        return {"error": "too_many_members"}
    if member is not None:
        if fold(member.name).replace(" ", "") != fold(p["name"]).replace(" ", ""):
            return {"error": "name_mismatch"}
        if bound(session, owner.id, member.id):
            return {"error": "already_bound"}
        guardians = session.scalar(select(func.count()).select_from(FamilyBinding).where(
            FamilyBinding.member_id == member.id, FamilyBinding.unbound_at.is_(None)))
        if guardians >= MAX_GUARDIANS:
            return {"error": "too_many_accounts"}
    minor = p.get("age") is not None and p["age"] < 14
    if minor and (p["relation"] != "child" or not _adult(owner, utcnow().astimezone(SHANGHAI).date())):
        return {"error": "guardian_not_adult"}
    if not minor and not p.get("consent"):
        return {"error": "consent_needed"}
    if member is None:
        member, _ = get_or_create_person(session, services.vault, "id_card", p["id_number"], p["name"],
                                         district=home_district("id_card", p["id_number"]))
    now = utcnow()
    session.add(FamilyBinding(owner_id=owner.id, member_id=member.id, relationship_kind=p["relation"],
                              guardian=minor, consent_at=None if minor else now))
    audit.record(session, "family.added", actor_kind="citizen", actor_id=owner.id, subject_person_id=member.id,
                 relationship=p["relation"], minor=minor, consent=bool(p.get("consent")),
                 id_masked=mask_id_number(p["id_number"]))
    code = session.get(Code, member.id)
    return {"name_masked": mask_name(member.name), "relationship": relation_word(p["relation"]),
            "colour": code.colour if code else None}


@action("family.unbind")
def family_unbind(services, session, msg, p):
    owner = _person(session, msg)
    rows = session.scalars(select(FamilyBinding).where(FamilyBinding.owner_id == owner.id,
                                                       FamilyBinding.member_id == p["person_id"],
                                                       FamilyBinding.unbound_at.is_(None))).all()
    for b in rows:
        b.unbound_at = utcnow()
    audit.record(session, "family.unbound", actor_kind="citizen", actor_id=owner.id, subject_person_id=p["person_id"])
    return {"ok": bool(rows)}


# -- 4, 5 appeals --------------------------------------------------------------------------------

@action("appeal.subjects")
def appeal_subjects(services, session, msg, payload):
    person = _person(session, msg)
    if person is None:
        return {"registered": False}
    me = {"person_id": person.id, "name_masked": mask_name(person.name), "relationship": say("words.self")}
    return {"registered": True, "subjects": [me] + [
        {k: m[k] for k in ("person_id", "name_masked", "relationship")} for m in _members(session, person.id)]}


def _may_act_for(session, msg, person_id: int) -> Person:
    me = _person(session, msg)
    if me is None or (me.id != person_id and not bound(session, me.id, person_id)):
        raise PermissionError("not this user's own or bound family member")
    return me


@action("appeal.check")
def appeal_check(services, session, msg, p):
    _may_act_for(session, msg, p["person_id"])
    existing = appeal_rules.open_appeal(session, p["person_id"])
    if existing is not None:
        return {"open_number": existing.number, "deadline": existing.deadline.isoformat()}
    code = session.get(Code, p["person_id"])
    return {"colour": code.colour if code else None, "reason": code.reason if code else None}


@action("appeal.file")
def appeal_file(services, session, msg, p):
    me = _may_act_for(session, msg, p["person_id"])
    if p.get("key"):
        done = session.scalar(select(Appeal).where(Appeal.person_id == p["person_id"], Appeal.filed_by_id == me.id)
                              .order_by(Appeal.id.desc()))
        if done is not None and done.created_at > utcnow() - dt.timedelta(minutes=1) and \
                done.description == p["description"]:
            return {"number": done.number, "deadline": done.deadline.isoformat()}  # a retry of this message
    try:
        appeal = appeal_rules.file_appeal(session, services.vault, person_id=p["person_id"], filed_by_id=me.id,
                                          reason_code=p["reason_code"], description=p["description"])
    except appeal_rules.OpenAppeal as exc:
        existing = appeal_rules.open_appeal(session, p["person_id"])
        return {"open_number": str(exc), "deadline": existing.deadline.isoformat() if existing else ""}
    media = list(p.get("media") or [])[:appeal_rules.MAX_EVIDENCE]
    for media_id in media:  # the images are fetched from the platform by a worker, sealed, kept
        session.add(AppealEvidence(appeal_id=appeal.id, media_id=media_id))
    if media:
        outbox.add(session, "appeal.evidence", {"appeal_id": appeal.id, "channel": msg.channel},
                   key=f"appeal.evidence:{appeal.id}")
    return {"number": appeal.number, "deadline": appeal.deadline.isoformat(), "images": len(media),
            "name_masked": mask_name(session.get(Person, p["person_id"]).name)}


@action("appeal.list")
def appeal_list(services, session, msg, payload):
    me = _person(session, msg)
    if me is None:
        return {"registered": False}
    ids = [me.id] + [m["person_id"] for m in _members(session, me.id)]
    rows = session.execute(select(Appeal, Person.name).join(Person, Person.id == Appeal.person_id)
                           .where(Appeal.person_id.in_(ids)).order_by(Appeal.id.desc()).limit(10)).all()
    now = utcnow()
    return {"registered": True, "appeals": [
        {"number": a.number, "name_masked": mask_name(name), "status": a.status, "deadline": a.deadline.isoformat(),
         "overdue": appeal_rules.overdue(a, now), "outcome": a.outcome, "reply": a.reply} for a, name in rows]}


# -- 6 limited pass ------------------------------------------------------------------------------

@action("pass.check")
def pass_check(services, session, msg, payload):
    me = _person(session, msg)
    if me is None:
        return {"registered": False}
    code = session.get(Code, me.id)
    now = utcnow()
    out = {"registered": True, "colour": code.colour if code else None,
           "max_hours": int(services.policy.features.get("limited_pass_max_hours", 24))}
    if code is None or code.colour != "yellow":
        return out
    running = session.scalar(select(LimitedPass).where(LimitedPass.person_id == me.id, LimitedPass.ends_at > now,
                                                       LimitedPass.starts_at <= now))
    if running is not None:
        out["active_until"] = running.ends_at.astimezone(SHANGHAI).strftime("%H:%M")
        out["link"] = code_view(services, me, code).get("link")
    out["used"] = session.scalar(select(LimitedPass.id).where(LimitedPass.person_id == me.id,
                                                              LimitedPass.episode == _episode(code))) is not None
    return out


def _episode(code: Code) -> str:
    """A yellow episode: from the moment the code turned yellow (a new one after any other colour)."""
    return code.since.isoformat()


@action("pass.create")
def pass_create(services, session, msg, p):
    me = _person(session, msg)
    code = session.get(Code, me.id) if me else None
    if code is None or code.colour != "yellow":
        return {"error": "not_yellow"}
    hours = int(p["hours"])
    if not 1 <= hours <= int(services.policy.features.get("limited_pass_max_hours", 24)):
        return {"error": "hours"}
    episode = _episode(code)
    if session.scalar(select(LimitedPass.id).where(LimitedPass.person_id == me.id, LimitedPass.episode == episode)):
        return {"error": "used"}
    now = utcnow()
    granted = LimitedPass(person_id=me.id, episode=episode, hours=hours, starts_at=now,
                          ends_at=now + dt.timedelta(hours=hours), destination=p["destination"])
    session.add(granted)
    session.flush()
    schedule_pass_ending(session, granted)
    push_code_image(session, me.id, identity(session, msg).id, now)
    audit.record(session, "limited_pass.granted", actor_kind="citizen", actor_id=me.id, subject_person_id=me.id,
                 hours=hours)
    return {"until": granted.ends_at.astimezone(SHANGHAI).strftime("%H:%M"), "hours": hours,
            "link": code_view(services, me, code).get("link")}


# -- 7 arrival report ------------------------------------------------------------------------------

@action("arrival.report")
def arrival_report(services, session, msg, p):
    me = _person(session, msg)
    left, arrival = dt.date.fromisoformat(p["left_on"]), dt.date.fromisoformat(p["arrival_on"])
    recent = session.scalar(select(ArrivalReport).where(ArrivalReport.person_id == me.id,
                                                        ArrivalReport.arrival_on == arrival,
                                                        ArrivalReport.left_on == left))
    if recent is not None:  # the same report again (a retry): one report
        return {"report_id": recent.id, "colour": getattr(session.get(Code, me.id), "colour", None)}
    origin_code = match_origin(session, p["origin"])
    district = match_origin(session, p["destination"]) or me.district
    report = ArrivalReport(person_id=me.id, origin_address=p["origin"], origin_code=origin_code, left_on=left,
                           arrival_on=arrival, destination_address=p["destination"], district=district,
                           phone_confirmed=True)
    session.add(report)
    if district:
        me.district = district
    today = utcnow().astimezone(SHANGHAI).date()
    # an origin the risk-area table does not know stays "unknown" (read as low) until staff classify it
    cls = (classify_origin(origin_code, risk_table(session)) or "low") if origin_code else "unknown"
    fact = TravelFact(person_id=me.id, overseas=False, origin_class=cls, origin_code=origin_code, arrival=arrival,
                      reported_on=today, source="arrival_report")
    session.add(fact)
    session.flush()
    report.travel_fact_id = fact.id
    decision, _ = reevaluate(session, services.policy, me.id, cause="declaration")
    audit.record(session, "arrival_report.filed", actor_kind="citizen", actor_id=me.id, subject_person_id=me.id,
                 report_id=report.id)
    return {"report_id": report.id, "colour": decision.colour, "reason": decision.reason, "unknown": cls == "unknown",
            "link": code_view(services, me, session.get(Code, me.id)).get("link")}
