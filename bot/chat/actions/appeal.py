"""4 申诉 and 5 申诉进度: whose codes the user may appeal, filing (evidence images fetched and sealed
by a worker), and the user's appeals and their family's."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.chat.actions.common import members, person_of, bound
from bot.chat.actions.registry import action
from bot.domain import appeals as appeal_rules
from bot.domain.code_views import reason_in
from bot.domain.models import Appeal, AppealEvidence, Code, Person
from bot.infra import outbox
from bot.infra.db import utcnow
from bot.infra.masking import id_tail, mask_name
from bot.infra.texts import say


@action("appeal.subjects")
def appeal_subjects(services, session, msg, payload):
    person = person_of(session, msg)
    if person is None:
        return {"registered": False}
    me = {"person_id": person.id, "name_masked": mask_name(person.name), "relationship": say("words.self"),
          "tail": id_tail(person.id_number)}
    return {"registered": True, "subjects": [me] + [
        {k: m[k] for k in ("person_id", "name_masked", "relationship", "tail")} for m in members(session, person.id)]}


def _may_act_for(session, msg, person_id: int) -> Person:
    me = person_of(session, msg)
    if me is None or (me.id != person_id and not bound(session, me.id, person_id)):
        raise PermissionError("not this user's own or bound family member")
    return me


@action("appeal.check")
def appeal_check(services, session, msg, p):
    _may_act_for(session, msg, p.person_id)
    existing = appeal_rules.open_appeal(session, p.person_id)
    if existing is not None:
        return {"open_number": existing.number, "deadline": existing.deadline.isoformat()}
    code = session.get(Code, p.person_id)
    return {"colour": code.colour if code else None, "reason": reason_in(code.reason, code.wording) if code else None}


@action("appeal.file")
def appeal_file(services, session, msg, p):
    me = _may_act_for(session, msg, p.person_id)
    if p.key:
        done = session.scalar(select(Appeal).where(Appeal.person_id == p.person_id, Appeal.filed_by_id == me.id)
                              .order_by(Appeal.id.desc()))
        if done is not None and done.created_at > utcnow() - dt.timedelta(minutes=1) and \
                done.description == p.description:
            return {"number": done.number, "deadline": done.deadline.isoformat()}  # a retry of this message
    try:
        appeal = appeal_rules.file_appeal(session, services.vault, person_id=p.person_id, filed_by_id=me.id,
                                          reason_code=p.reason_code, description=p.description)
    except appeal_rules.OpenAppeal as exc:
        existing = appeal_rules.open_appeal(session, p.person_id)
        return {"open_number": str(exc), "deadline": existing.deadline.isoformat() if existing else ""}
    media = list(p.media)[:appeal_rules.MAX_EVIDENCE]
    evidence = [AppealEvidence(appeal_id=appeal.id, media_id=media_id) for media_id in media]
    session.add_all(evidence)
    session.flush()
    for e in evidence:  # each image fetched from the platform by a worker on its own, checked, sealed, kept
        outbox.add(session, "appeal.evidence", {"appeal_id": appeal.id, "evidence_id": e.id, "channel": msg.channel},
                   key=f"appeal.evidence:{appeal.id}:{e.id}")
    return {"number": appeal.number, "deadline": appeal.deadline.isoformat(), "images": len(media),
            "name_masked": mask_name(session.get(Person, p.person_id).name)}


@action("appeal.list")
def appeal_list(services, session, msg, payload):
    me = person_of(session, msg)
    if me is None:
        return {"registered": False}
    ids = [me.id] + [m["person_id"] for m in members(session, me.id)]
    rows = session.execute(select(Appeal, Person.name).join(Person, Person.id == Appeal.person_id)
                           .where(Appeal.person_id.in_(ids)).order_by(Appeal.id.desc()).limit(10)).all()
    now = utcnow()
    return {"registered": True, "appeals": [
        {"number": a.number, "name_masked": mask_name(name), "status": a.status, "deadline": a.deadline.isoformat(),
         "overdue": appeal_rules.overdue(a, now), "outcome": a.outcome, "reply": a.reply} for a, name in rows]}
