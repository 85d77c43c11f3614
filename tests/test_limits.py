"""Rate limits: per chat user (a polite text once, then silence), per staff token on the API
(429), per address on the console sign-in; and XML with a DTD never reaches a parser."""
from __future__ import annotations

import pytest

from bot.domain.staff import create_staff
from tests.support.chat import Chat
from tests.support.staff import sign_in


def test_a_chat_user_sending_too_fast_is_told_once(env, make_app):
    app, svc = make_app(CHAT_RATE_PER_MIN="3")
    try:
        chat = Chat(app, user="o-fast")
        for _ in range(3):
            assert "请回复数字" in chat.say("菜单")
        assert "太快" in chat.say("菜单")
        assert chat.say("菜单") == ""            # then silence: no text to flood back
        # a retry of an answered message is not a new message: it gets its first answer
        ex = chat.sim.text("o-other", "菜单")
        for _ in range(5):
            assert chat.sim.send(ex.request_xml).texts == ex.texts
        assert "请回复数字" in Chat(app, user="o-slow").say("菜单")  # others are not affected
    finally:
        svc.close()


def test_a_message_waiting_for_the_users_lock_counts_once(make_app):
    """Issue 15, finding 10: the chat limit counted every attempt to take the user's lock, so a
    message that waited behind another used up the user's minute."""
    from tests.support.chat import APPID

    app, svc = make_app(CHAT_RATE_PER_MIN="3")
    chat = Chat(app, user="o-waits")
    # another process holds this user's lock for 0.3 s: begin tries again every few ms meanwhile
    svc.redis.client().set(f"chat:lock:wechat:{APPID}:o-waits", "other", px=300)
    for _ in range(3):
        assert "请回复数字" in chat.say("菜单")
    assert "太快" in chat.say("菜单")  # the fourth is the first one over


def test_staff_tokens_are_limited_one_by_one(env, make_app):
    app, svc = make_app(STAFF_RATE_LIMIT="3 per minute")
    try:
        with svc.db.session() as s:
            a = create_staff(s, "admin", "甲")[1]
            b = create_staff(s, "admin", "乙")[1]
        client = app.test_client()
        codes = [client.get("/api/v1/stats", headers={"Authorization": f"Bearer {a}"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/api/v1/stats", headers={"Authorization": f"Bearer {a}"})
        assert limited.json["error"] and "Retry-After" in limited.headers
        assert client.get("/api/v1/stats", headers={"Authorization": f"Bearer {b}"}).status_code == 200
    finally:
        svc.close()


def test_made_up_tokens_count_against_their_address(make_app):
    """Issue 15, finding 10: the API limit was keyed on whatever token came, so each made-up
    token got a fresh allowance (650 guesses, no 429)."""
    app, _ = make_app(STAFF_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.get("/api/v1/stats", headers={"Authorization": f"Bearer hcs_guess{n}"}).status_code
             for n in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]
    assert client.get("/api/v1/stats").status_code == 429  # no token: the same address


def test_console_sign_in_fails_closed_without_redis(make_app):
    """Issue 15, finding 10: with Redis down the sign-in limit was off (unlimited guessing)."""
    app, svc = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with svc.db.session() as s:
        token = create_staff(s, "reviewer", "审核员")[1]
    r = sign_in(app.test_client(), token)
    assert r.status_code == 503 and "系统繁忙" in r.get_data(as_text=True)


def test_console_sign_in_attempts_are_limited(env, make_app):
    app, svc = make_app(LOGIN_RATE_LIMIT="2 per minute")
    try:
        client = app.test_client()
        codes = [sign_in(client, "hcs_guess").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
    finally:
        svc.close()


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml>&lol2;</xml>',
    b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>',
])
def test_entity_expansion_is_refused_by_the_parser_itself(body):
    import defusedxml

    from bot.web.channels import parse_fields

    with pytest.raises(defusedxml.DefusedXmlException):
        parse_fields(body)
