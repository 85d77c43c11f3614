"""Issue 15, finding 4: code page links name a random public id and a link version, so they end
with their person (a purge), with an unbinding, and when the person resets them in chat. Each
attack goes through the chat as a user would: the link is the one the reply gave."""
from __future__ import annotations

import re

from tests.support.chat import CLEAN, REGISTRATION, Chat, id_card

OTHER = ("1", "李四", "1", id_card("11010119850512301"), "13912345678")
GRANDMA = id_card("11010519491231002")


def _link_path(reply: str, services) -> str:
    found = re.findall(re.escape(services.settings.public_base_url) + r"(/codes/[^\s）)]+)", reply)
    assert found, reply
    return found[-1]


def test_a_link_from_before_a_purge_shows_nobody(make_app):
    """SQLite handed the purged person's id to the next person, and the old link (it named the id)
    showed the newcomer's code."""
    from bot.domain import purge

    app, svc = make_app()
    old = _link_path(Chat(app, user="o-first").run(*REGISTRATION, *CLEAN, "1"), svc)
    web = app.test_client()
    assert web.get(old).status_code == 200
    purge.everything(svc)
    assert web.get(old).status_code == 404
    new = _link_path(Chat(app, user="o-second").run(*OTHER, *CLEAN, "1"), svc)
    assert web.get(new).status_code == 200
    page = web.get(old)
    assert page.status_code == 404 and "李*" not in page.get_data(as_text=True)
    assert web.get(old + ".png").status_code == 404


def test_resetting_links_in_chat_ends_the_old_ones(make_app):
    app, svc = make_app()
    chat = Chat(app, user="o-reset")
    old = _link_path(chat.run(*REGISTRATION, *CLEAN, "1"), svc)
    also_old = _link_path(chat.say("2"), svc)  # every link given so far, not only the last
    web = app.test_client()
    assert web.get(old).status_code == 200 and web.get(also_old).status_code == 200
    reply = chat.say("重置亮码链接")
    assert "失效" in reply
    new = _link_path(reply, svc)
    assert web.get(old).status_code == 404 and web.get(also_old).status_code == 404
    assert web.get(new).status_code == 200 and web.get(new + ".png").status_code == 200
    assert web.get(_link_path(chat.say("2"), svc)).status_code == 200


def test_an_unbinding_ends_the_owners_links_to_the_member(make_app):
    app, svc = make_app()
    chat = Chat(app, user="o-owner")
    chat.run(*REGISTRATION, *CLEAN, "1")
    chat.run("3", "1", "4", "李奶奶", GRANDMA, "1")
    chat.run("3", "3")
    member = _link_path(chat.run("2", "4", "2", "2", "5", "1"), svc)  # declared for her: her link
    web = app.test_client()
    assert web.get(member).status_code == 200
    chat.run("3", "4")
    assert "已解除" in chat.say("1")
    assert web.get(member).status_code == 404


def test_a_forged_or_altered_link_is_refused(client):
    assert client.get("/codes/not-a-token").status_code == 404
    assert client.get("/codes/WzEsIDFd.aaaa.bbbb").status_code == 404
