"""Paper codes (纸质健康码, seed 003): a printable A6 page whose QR is a claim signed like the
code image's (bot.infra.signing) but valid for PAPER_CODE_DAYS, for people without a phone.

The QR holds the colour and code version of the time it was printed. A colour change does not
change the paper: the QR still verifies offline until it expires, and online scans say
"outdated" (the version changed); the push of the change tells the person and their family to
print a new one (`outstanding`)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.domain import audit
from bot.domain.models import Code, PaperCode, Person
from bot.infra import tokens
from bot.infra.db import utcnow


def issue(session, person: Person, code: Code, days: int, issued_by: int | None, now: dt.datetime | None = None,
          staff=None) -> PaperCode:
    """`issued_by`: the chat user who asked (themselves or family); `staff`: a counter clerk."""
    now = (now or utcnow()).replace(microsecond=0)
    paper = PaperCode(person_id=person.id, issued_by_id=issued_by, colour=code.colour, code_version=code.version,
                      issued_at=now, valid_until=now + dt.timedelta(days=days))
    session.add(paper)
    session.flush()
    if staff is not None:
        audit.by_staff(session, staff, "paper_code.issued", person.id, paper_id=paper.id, colour=code.colour, days=days)
    else:
        audit.record(session, "paper_code.issued", actor_kind="citizen", actor_id=issued_by,
                     subject_person_id=person.id, paper_id=paper.id, colour=code.colour, days=days)
    return paper


def link(settings, person: Person, paper: PaperCode) -> str:
    """The printable PDF, in the language in hand (国际版: an English account prints English)."""
    token = tokens.paper_token(settings.secret_key, person.public_id, person.link_version, paper.id)
    return tokens.in_language(f"{settings.public_base_url}/paper/{token}.pdf")


def by_link(session, settings, token: str) -> tuple[Person, PaperCode] | None:
    """The person and paper code a printable link names, if it stands (signed, the person's
    current link version, the paper code theirs and not expired)."""
    claim = tokens.read_paper_token(settings.secret_key, token, settings.paper_code_days * 86400 + 3600)
    if claim is None:
        return None
    person = session.scalar(select(Person).where(Person.public_id == claim[0]))
    paper = session.get(PaperCode, claim[2])
    if person is None or person.link_version != claim[1] or paper is None or paper.person_id != person.id:
        return None
    return (person, paper) if paper.valid_until > utcnow() else None


def outstanding(session, person_ids, now: dt.datetime | None = None) -> set[int]:
    """Who has a paper code still valid (a colour change should tell them to print again)."""
    now = now or utcnow()
    return set(session.scalars(select(PaperCode.person_id).where(PaperCode.person_id.in_(set(person_ids)),
                                                                  PaperCode.valid_until > now)))
