"""6 限时通行: a yellow code's one pass per yellow episode, its image, the warning 15 minutes before it ends."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.chat.actions.common import code_view, identity, person_of, push_code_image
from bot.chat.actions.registry import action
from bot.domain import audit
from bot.domain.models import Code, LimitedPass
from bot.domain.notices import schedule_pass_ending
from bot.infra.db import SHANGHAI, utcnow


@action("pass.check")
def pass_check(services, session, msg, payload):
    me = person_of(session, msg)
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
    me = person_of(session, msg)
    code = session.get(Code, me.id) if me else None
    if code is None or code.colour != "yellow":
        return {"error": "not_yellow"}
    hours = int(p.hours)
    if not 1 <= hours <= int(services.policy.features.get("limited_pass_max_hours", 24)):
        return {"error": "hours"}
    episode = _episode(code)
    if session.scalar(select(LimitedPass.id).where(LimitedPass.person_id == me.id, LimitedPass.episode == episode)):
        return {"error": "used"}
    now = utcnow()
    granted = LimitedPass(person_id=me.id, episode=episode, hours=hours, starts_at=now,
                          ends_at=now + dt.timedelta(hours=hours), destination=p.destination)
    session.add(granted)
    session.flush()
    schedule_pass_ending(session, granted)
    push_code_image(session, me.id, identity(session, msg).id, now)
    audit.record(session, "limited_pass.granted", actor_kind="citizen", actor_id=me.id, subject_person_id=me.id,
                 hours=hours)
    return {"until": granted.ends_at.astimezone(SHANGHAI).strftime("%H:%M"), "hours": hours,
            "link": code_view(services, me, code).get("link")}
