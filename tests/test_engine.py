"""The conversation engine on its own: a fake runner stands in for the database."""
import datetime as dt

import pytest

import handlers
from bot.chat.faq import entries
from handlers.declare import SmsRequest
from bot.chat.conversation.engine import MAX_WRONG, Engine
from bot.chat.conversation.messages import Inbound
from bot.infra.db import SHANGHAI
from bot.infra.texts import say
from bot.chat.conversation.answers import words
from tests.support.chat import id_card

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


class Bot:
    def __init__(self, features=None, timeout=1800, registered=False, sms=False):
        self.calls = []
        self.registered = registered
        self.identity = "new"  # what identity.check finds for the ID number typed
        self.engine = Engine(handlers.flows(), words(),
                             options=lambda: {"features": features or {}, "sms_verification": sms, "policy": "t", "faq": entries()},
                             timeout=timeout, say=say)
        self.conv = None
        self.now = NOW

    def run(self, action, payload):
        self.calls.append((action, payload))
        if action == "profile":
            return {"registered": self.registered, "name_masked": "张*"}
        if action == "declare":
            return {"ok": True, "colour": "green", "reason": "r", "next_step": "", "since": NOW.isoformat(),
                    "reevaluate_at": None, "link": "http://x/codes/t", "name_masked": "张*", "may": "绿码可正常通行。"}
        if action == "code_summary":
            return {}
        if action == "sms.send":
            return {"sent": True}
        if action == "sms.verify":
            return {"ok": payload.code == "123456"}
        if action == "identity.check":
            return {"status": self.identity}
        if action == "identity.send_code":
            return {"sent": True}
        if action == "identity.bind":
            return {"ok": payload.code == "654321", "locked": False, "name_masked": "张*"}
        if action == "identity.request_staff":
            return {"code": "ABCD-EFGH"}
        return {}

    def send(self, text=None, kind="text", **extra) -> str:
        msg = Inbound("wechat", "wx", "u", kind, text=text or "", msg_id=str(len(self.calls)) + (text or ""), **extra)
        self.conv, out = self.engine.process(self.conv, msg, self.run, self.now)
        return "\n\n".join(out)

    @property
    def state(self):
        return self.conv and self.conv["state"]


def test_menu_lists_items_by_policy_features():
    plain = Bot().send("菜单")
    assert "1 健康申报" in plain and "2 查看我的健康码" in plain and "0 常见问题" in plain
    assert plain.index("2 查看") < plain.index("0 常见问题")  # 0 comes last


@pytest.mark.parametrize("word", ["菜单", "帮助", "?", "？", "随便说点什么"])
def test_menu_words_and_unrecognised_text_give_the_menu(word):
    assert "请回复数字选择服务" in Bot().send(word)


def test_registration_then_questions_back_and_changed_answer():
    bot = Bot()
    assert "姓名" in bot.send("1")
    bot.send("张三")
    assert bot.state == "id_type"
    bot.send(id_card("11010119900307757"))  # an ID number where the type is asked: type 1 assumed
    assert bot.state == "phone"
    bot.send("13812345678")
    assert bot.state == "overseas"
    bot.send("2")
    bot.send("1")            # travel: a risk area
    assert bot.state == "origin"
    bot.send("杭州市西湖区")
    bot.send("昨天")
    assert bot.state == "symptoms"
    back = bot.send("返回")   # back to the arrival date, answers kept
    assert bot.state == "arrival" and "到达本地的日期" in back
    bot.send("返回")
    bot.send("返回")
    assert bot.state == "travel"
    bot.send("4")            # changed answer: the origin and date are dropped
    assert bot.state == "symptoms"
    assert "origin" not in bot.conv["data"] and "arrival" not in bot.conv["data"]
    for answer in ("2", "2", "5"):
        bot.send(answer)
    summary = bot.send("返回") and bot.send("5")
    assert bot.state == "confirm" and "中高风险地区：都没有" in summary and "张*" in summary
    assert "110***********7571" in summary and "138****5678" in summary
    done = bot.send("1")
    assert "申报成功" in done and bot.conv is None
    payload = bot.calls[-1][1]
    assert bot.calls[-1][0] == "declare" and payload.travel == 4 and payload.origin is None
    assert payload.name == "张三" and payload.id_type == "id_card"


def test_back_at_the_first_question_leaves_to_the_menu():
    bot = Bot(registered=True)
    assert "境外旅居史" in bot.send("申报")
    assert "请回复数字选择服务" in bot.send("返回") and bot.conv is None


def test_refill_starts_the_questions_again_keeping_registration():
    bot = Bot(registered=True)
    for answer in ("1", "2", "4", "2", "2", "5"):
        bot.send(answer)
    assert bot.state == "confirm"
    reply = bot.send("2")
    assert bot.state == "overseas" and "重新填写" in reply and bot.conv["trail"] == []


def test_five_wrong_answers_end_the_flow_with_advice():
    bot = Bot()
    bot.send("1")
    for i in range(MAX_WRONG - 1):
        reply = bot.send("张3")
        assert "不能有数字" in reply and "请输入您的姓名" in reply
    reply = bot.send("张3")
    assert bot.conv is None and "12345" in reply and "常见问题" in reply


def test_a_right_answer_resets_the_wrong_count():
    bot = Bot()
    bot.send("1")
    for _ in range(MAX_WRONG - 1):
        bot.send("张3")
    bot.send("张三")
    for _ in range(MAX_WRONG - 1):
        bot.send("9")
    assert bot.state == "id_type"


def test_image_voice_and_emoji_where_text_is_asked():
    bot = Bot()
    bot.send("1")
    assert "不能发图片" in bot.send(kind="image") and bot.state == "name"
    assert "语音" in bot.send(kind="voice")
    assert "表情" in bot.send("😀😀")
    assert "太长" in bot.send("张" * 1200)
    assert bot.conv["errors"] == 4


def test_cancel_drops_half_entered_answers():
    bot = Bot()
    bot.send("1")
    bot.send("张三")
    reply = bot.send("取消")
    assert bot.conv is None and "已退出" in reply and "请回复数字选择服务" in reply


def test_time_out_is_told_then_the_menu():
    bot = Bot(timeout=60)
    bot.send("1")
    bot.now = NOW + dt.timedelta(seconds=61)
    reply = bot.send("张三")
    assert "超时" in reply and "请回复数字选择服务" in reply and bot.conv is None


def test_sms_verification_when_on():
    bot = Bot(sms=True)
    for answer in ("1", "张三", id_card("11010119900307757"), "13812345678"):
        bot.send(answer)
    assert bot.state == "sms" and ("sms.send", SmsRequest("13812345678")) in bot.calls
    assert "验证码不正确" in bot.send("000000") and bot.state == "sms"
    assert "6位数字" in bot.send("12")
    bot.send("123456")
    assert bot.state == "overseas" and bot.conv["data"]["phone_verified"]


def test_events():
    bot = Bot()
    assert "欢迎关注" in bot.send(kind="event", event="subscribe")
    assert ("subscribe", {}) in bot.calls
    assert bot.send(kind="event", event="unsubscribe") == ""
    assert "境外旅居史" in Bot(registered=True).send(kind="event", event="click", event_key="DECLARE")
    assert "请回复数字选择服务" in bot.send(kind="event", event="click", event_key="MENU")
    for quiet in ("view", "location", "templatesendjobfinish"):
        assert bot.send(kind="event", event=quiet) == ""
    assert "请回复数字选择服务" in bot.send(kind="event", event="scan")


def test_faq_by_number_and_by_words():
    bot = Bot()
    listing = bot.send("0")
    assert "1 为什么我是黄码？" in listing and bot.state == "pick"
    assert "居家健康观察" in bot.send("1") and bot.conv is None
    assert "家人代办" in Bot().send("我家老人没有智能手机怎么办")
    bot = Bot()
    bot.send("常见问题")
    assert "没有找到这个问题的答案" in bot.send("天气怎么样")


def test_an_id_number_registered_elsewhere_needs_a_code_to_the_phone_on_file():
    bot = Bot()
    bot.identity = "registered"
    bot.run = (lambda run: lambda action, payload: {"status": "registered", "phone_masked": "138****5678"}
               if action == "identity.check" else run(action, payload))(bot.run)
    reply = bot.send("1") and bot.send("张三") and bot.send("1") and bot.send(id_card("11010119900307757"))
    assert bot.state == "bind_how" and "138****5678" in reply
    assert "验证码已发送" in bot.send("1") and bot.state == "bind_code"
    assert "验证码" in bot.send("111111") and bot.state == "bind_code"  # wrong: asked again
    reply = bot.send("654321")
    assert "已绑定张*" in reply and bot.state == "overseas"
    assert "phone" not in bot.conv["data"] and "id_number" not in bot.conv["data"]  # nothing kept, nothing replaced
    assert "菜单" in bot.send("返回") or bot.conv is None  # bound: no way back to the code or the ID number


def test_staff_confirmation_gives_a_request_code():
    bot = Bot()
    bot.run = (lambda run: lambda action, payload: {"status": "registered", "phone_masked": "138****5678"}
               if action == "identity.check" else run(action, payload))(bot.run)
    for line in ("1", "张三", "1", id_card("11010119900307757")):
        bot.send(line)
    reply = bot.send("2")
    assert "ABCD-EFGH" in reply and bot.conv is None
