"""Faults with real processes: a Redis server stopped in the middle of a conversation and
started again; the webhook answers within 5 s meanwhile, and works again without a restart."""
from __future__ import annotations

import time

import pytest

from bot.infra.redis.embedded import EmbeddedRedis
from tests.support.chat import REGISTRATION, WECHAT_ENV, Chat


@pytest.mark.slow
def test_redis_stopped_mid_conversation_then_back(env, tmp_path):
    from bot import create_app
    from bot.services import Services

    server = EmbeddedRedis(tmp_path / "own-redis")
    (tmp_path / "own-redis").mkdir()
    server.ensure()
    svc = Services.from_env({**env, **WECHAT_ENV, "REDIS_URL": server.url})
    try:
        app = create_app(services=svc)
        chat = Chat(app, user="o-fault")
        chat.run(*REGISTRATION, "2", "4")          # in the middle of the health questions
        server.stop()                               # Redis saves its data and exits
        started = time.monotonic()
        reply = chat.say("1")
        assert "系统繁忙" in reply and time.monotonic() - started < 5
        server.ensure()                             # back, on the same socket, with the saved state
        resumed = chat.say("2")
        # the conversation resumes where it was (the answer "1" above was not taken)
        assert "病例" in resumed or "确诊" in resumed, resumed
        assert "申报成功" in chat.run("2", "5", "1")
    finally:
        svc.close()
        server.stop()


def test_no_log_line_holds_a_token(env, capsys):
    """Issue 15, finding 13: at DEBUG, and on any 5xx, the request path was logged with its view
    token (whoever read the logs could open the person's code page)."""
    import logging

    from bot import create_app
    from bot.infra import tokens
    from bot.infra.logs import configure_logging
    from bot.services import Services
    from tests.support.people import code_path, person_with_code

    svc = Services.from_env({**env, "LOG_LEVEL": "DEBUG"})
    try:
        app = create_app(services=svc)
        configure_logging("DEBUG")
        pid = person_with_code(svc, "green")
        view = code_path(svc, pid).rsplit("/", 1)[1]
        scan = tokens.scan_token(svc.settings.secret_key, pid, 1, tokens.scan_period(__import__("time").time()))

        @app.get("/codes/<token>/boom")
        def boom(token):
            raise RuntimeError(f"failed for /codes/{token}")

        client = app.test_client()
        assert client.get(f"/codes/{view}").status_code == 200
        assert client.get(f"/codes/{view}/boom").status_code == 500
        client.get(f"/v/{scan}")
        client.get("/api/v1/appeals", headers={"Authorization": "Bearer hcs_made-up-token-value"})
        logging.getLogger("bot.test").warning("a link %s/codes/%s and hcs_made-up-token-value",
                                              svc.settings.public_base_url, view)
        paper = tokens.paper_token(svc.settings.secret_key, "public-id", 1, 1)  # a printable code's link
        logging.getLogger("bot.test").warning("printed %s/paper/%s.pdf", svc.settings.public_base_url, paper)
        out = capsys.readouterr()
        logged = out.err + out.out
        assert "/codes/[redacted]" in logged and " 500" in logged  # the lines are there, redacted
        for secret in (view, scan, "hcs_made-up-token-value", paper):
            assert secret not in logged
    finally:
        logging.getLogger().setLevel("WARNING")
        svc.close()


def test_no_log_line_holds_an_unmasked_id_number_or_phone(env, capsys):
    """A whole declaration, a staff look-up and a failing step, all logged at DEBUG: the raw
    ID number and phone never appear (SQL echo off; the JSON formatter masks messages and
    tracebacks)."""
    import logging

    from bot import create_app
    from bot.infra.logs import configure_logging
    from bot.services import Services
    from bot.domain.staff import create_staff
    from tests.support.chat import CLEAN

    svc = Services.from_env({**env, **WECHAT_ENV, "LOG_LEVEL": "DEBUG"})
    try:
        app = create_app(services=svc)
        configure_logging("DEBUG")
        logging.getLogger("bot.test").info("registering %s with %s", REGISTRATION[3], REGISTRATION[4])
        chat = Chat(app, user="o-logs")
        chat.run(*REGISTRATION, *CLEAN, "1")
        with svc.db.session() as s:
            token = create_staff(s, "reviewer", "审核员")[1]
        app.test_client().get("/api/v1/people", query_string={"id_number": REGISTRATION[3]},
                              headers={"Authorization": f"Bearer {token}"})
        try:
            raise ValueError(f"bad number {REGISTRATION[3]} / {REGISTRATION[4]}")
        except ValueError:
            logging.getLogger("bot.test").exception("failed")
        out = capsys.readouterr()
        logged = out.err + out.out
        assert "registering" in logged and "failed" in logged
        assert REGISTRATION[3] not in logged and REGISTRATION[4] not in logged
        assert REGISTRATION[3][:3] + "*" in logged  # masked forms are there instead
    finally:
        logging.getLogger().setLevel("WARNING")
        svc.close()


@pytest.mark.slow
def test_postgresql_unreachable_mid_conversation_then_back(env, pg_schema_url):
    """Through a proxy that goes away and comes back (PostgreSQL only: SQLite has no server)."""
    if not pg_schema_url:
        pytest.skip("runs against PostgreSQL (TEST_DATABASE_URL)")
    from urllib.parse import urlsplit, urlunsplit

    from bot import create_app
    from bot.services import Services
    from tests.support.chat import CLEAN
    from tests.support.proxy import Proxy

    parts = urlsplit(pg_schema_url)
    proxy = Proxy((parts.hostname, parts.port or 5432)).start()
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}")
    svc = Services.from_env({**env, **WECHAT_ENV, "DATABASE_URL": urlunsplit(parts._replace(netloc=netloc))})
    try:
        chat = Chat(create_app(services=svc), user="o-dbfault")
        chat.run(*REGISTRATION, *CLEAN)      # at the summary
        proxy.stop()
        started = time.monotonic()
        reply = chat.say("1")
        assert "系统繁忙" in reply and time.monotonic() - started < 5
        proxy.start()
        assert "申报成功" in chat.say("1")   # the state was kept; no restart needed
    finally:
        proxy.stop()
        svc.close()
