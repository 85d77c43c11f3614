"""Chatting with the app in tests, as WeChat does (signed XML to /wechat)."""
from __future__ import annotations

from bot.devtools.devchat import WeChatSimulator, flask_poster
from bot.domain.idcard import check_digit

# Tencent's safe-mode sample account (the official WXBizMsgCrypt demo)
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"
# compatible mode (plaintext taken beside the AES key), as most chat tests talk plain; the
# refusal of plaintext without it is tests/test_replay.py's
WECHAT_ENV = {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_ENCODING_AES_KEY": AES_KEY,
              "WECHAT_SECRET": "test-secret", "WECHAT_ALLOW_PLAIN": "on"}


def id_card(body17: str) -> str:
    return body17 + check_digit(body17)


class Chat:
    """One WeChat user talking to the app: say() returns the reply text."""

    def __init__(self, app, user="user-1", safe=False):
        self.app = app
        self.user = user
        self.sim = WeChatSimulator(flask_poster(app.test_client()), app.extensions["services"].settings.wechat,
                                   safe=safe)

    def say(self, text: str) -> str:
        ex = self.sim.text(self.user, text)
        assert ex.status == 200, ex.reply_body
        return ex.texts

    def run(self, *lines: str) -> str:
        reply = ""
        for line in lines:
            reply = self.say(line)
        return reply

    def event(self, event: str, key: str = "") -> str:
        ex = self.sim.event(self.user, event, key)
        assert ex.status == 200
        return ex.texts

    def image(self) -> str:
        ex = self.sim.image(self.user)
        assert ex.status == 200
        return ex.texts


REGISTRATION = ("1", "张三", "1", id_card("11010119900307757"), "13812345678")
CLEAN = ("2", "4", "2", "2", "5")  # no overseas, no travel, no symptoms, no case, no measure
YELLOW = ("2", "4", "1", "2", "5")  # symptoms: a yellow code in every policy (something to appeal)


def last_sms_code(services) -> str:
    """The code in the newest development SMS (the log sender keeps them in Redis for /dev/chat)."""
    import json
    import re

    raw = services.redis.client().lindex("dev:sms", 0)
    assert raw is not None, "no SMS was sent"
    return re.search(r"\d{6}", json.loads(raw)["text"]).group(0)
