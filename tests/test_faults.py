"""Faults with real processes: a Redis server stopped in the middle of a conversation and
started again; the webhook answers within 5 s meanwhile, and works again without a restart."""
from __future__ import annotations

import time

import pytest

from bot.redis_server import EmbeddedRedis
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
