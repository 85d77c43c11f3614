"""Issue 15, finding 6: reply texts carry code page links (a link shows the person's code), so
the answer Redis remembers for retries and the notices' payloads are sealed with the PII key."""
from __future__ import annotations

from sqlalchemy import select, text

from bot.domain.models import ChannelIdentity, Notice
from tests.support.chat import CLEAN, REGISTRATION, Chat


def _redis_strings(services) -> dict[str, bytes]:
    r = services.redis.client()
    return {k.decode(): r.get(k) for k in r.scan_iter("*") if r.type(k) == b"string"}


def test_no_link_or_name_sits_in_redis_in_the_clear(make_app):
    app, svc = make_app()
    chat = Chat(app, user="o-sealed")
    reply = chat.run(*REGISTRATION, *CLEAN, "1")
    assert "/codes/" in reply
    stored = _redis_strings(svc)
    assert any(":seen:" in k for k in stored)  # the answer is remembered (for a retry)...
    for key, value in stored.items():
        assert b"/codes/" not in (value or b"") and "13812345678" not in key, key  # ...but not readable
        assert "张".encode() not in (value or b""), key
    first = chat.sim.text("o-sealed", "2")
    assert "/codes/" in first.texts
    assert chat.sim.send(first.request_xml).texts == first.texts  # a retry still gets the first answer


def test_notice_payloads_are_sealed_in_the_database(make_app):
    app, svc = make_app()
    reply = Chat(app, user="o-notice").run(*REGISTRATION, *CLEAN, "1")
    with svc.db.session() as s:
        ident = s.scalar(select(ChannelIdentity))
        s.add(Notice(person_id=ident.person_id, identity_id=ident.id, kind="chat_reply", payload={"texts": [reply]}))
    with svc.db.session() as s:
        raw = s.execute(text("SELECT payload FROM notices")).scalars().all()
        assert raw and all("/codes/" not in r and "张" not in r for r in raw)
        told = s.scalar(select(Notice).where(Notice.kind == "chat_reply"))
        assert told.payload == {"texts": [reply]}
