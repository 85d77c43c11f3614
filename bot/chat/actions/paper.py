"""打印纸质码: issue a paper code for yourself or a bound family member (bot.domain.paper)."""
from __future__ import annotations

from bot.chat.actions.common import bound, person_of
from bot.chat.actions.registry import action
from bot.domain import paper
from bot.domain.models import Code, Person
from bot.infra.masking import mask_name


@action("paper.issue")
def paper_issue(services, session, msg, p):
    me = person_of(session, msg)
    if me is None or (me.id != p.person_id and not bound(session, me.id, p.person_id)):
        raise PermissionError("not this user's own or bound family member")
    person = session.get(Person, p.person_id)
    code = session.get(Code, person.id)
    if code is None:
        return {"name_masked": mask_name(person.name)}
    issued = paper.issue(session, person, code, services.settings.paper_code_days, issued_by=me.id)
    return {"name_masked": mask_name(person.name), "colour": code.colour, "until": issued.valid_until.isoformat(),
            "link": paper.link(services.settings, person, issued)}
