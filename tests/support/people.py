"""People with codes, written straight to the database (tests that are not about declaring)."""
from __future__ import annotations

import datetime as dt

from bot.infra.db import utcnow
from bot.domain.models import Code
from bot.domain.people import get_or_create_person
from tests.support.chat import id_card


def person_with_code(services, colour: str = "green", *, name: str = "张三", number: str | None = None,
                     version: int = 1) -> int:
    number = number or id_card(f"1101011990030{len(colour)}{version:03d}")
    with services.db.session() as s:
        person, _ = get_or_create_person(s, services.vault, "id_card", number, name, registered=True,
                                         phone="13812345678")
        s.add(Code(person_id=person.id, colour=colour, rule="T", reason="测试", next_step="", version=version,
                   policy="zhejiang", since=utcnow() - dt.timedelta(days=1)))
        s.flush()
        return person.id


def code_path(services, person_id: int) -> str:
    """The code page path a chat reply would give for this person (its current link version)."""
    from bot.domain.models import Person
    from bot.infra.tokens import code_link

    with services.db.session() as s:
        link = code_link(services.settings, s.get(Person, person_id))
    return link[len(services.settings.public_base_url):]
