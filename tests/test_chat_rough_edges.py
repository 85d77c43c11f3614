"""Issue 16, the chat: what a citizen and a family member stumbled on, each played through the
chat (WeChat XML through the app, as in tests/test_wechat.py)."""
from __future__ import annotations

import datetime as dt
import re

import handlers
from sqlalchemy import select

from bot.domain.models import Appeal, Notice, RiskArea, TravelFact
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.texts import say
from tests.support.chat import CLEAN, REGISTRATION, YELLOW, Chat, id_card
from tests.support.workers import burst

GRANDPA = id_card("11010519470101003")   # 17th digit 3: 他
GRANDMA = id_card("11010519490101002")   # 17th digit 2: 她
TODAY = utcnow().astimezone(SHANGHAI).date()


def _with_family(app) -> Chat:
    chat = Chat(app, user="o-owner")
    chat.run(*REGISTRATION, *CLEAN, "1")
    chat.run("3", "1", "4", "王爷爷", GRANDPA, "1")
    chat.run("3", "1", "4", "王奶奶", GRANDMA, "1")
    return chat


def test_family_members_of_one_surname_are_told_apart(make_app):
    app, svc = make_app()
    chat = _with_family(app)
    listing = chat.run("3", "2")
    assert f"王**（祖父母/外祖父母，尾号{GRANDPA[-4:]}）" in listing
    assert f"王**（祖父母/外祖父母，尾号{GRANDMA[-4:]}）" in listing
    pick = chat.run("取消", "3", "3")
    assert f"1 王**（祖父母/外祖父母，尾号{GRANDPA[-4:]}）" in pick and "（child）" not in pick
    chat.say("1")
    chat.run(*YELLOW, "1")                   # declared for grandpa: yellow
    mine = chat.say("2")
    assert f"王**（祖父母/外祖父母，尾号{GRANDPA[-4:]}）：🟡黄码" in mine and "grandparent" not in mine
    whose = chat.say("4")
    assert f"王**（祖父母/外祖父母，尾号{GRANDPA[-4:]}）" in whose and f"张*（本人，尾号{REGISTRATION[3][-4:]}）" in whose


def test_pushes_say_whose_code_and_a_declaration_is_told_once(make_app):
    app, svc = make_app()
    chat = _with_family(app)
    assert "为王**（祖父母/外祖父母，尾号" in chat.run("3", "3", "1")  # declaring for grandpa
    assert "申报成功" in chat.run(*YELLOW, "1")
    # the owner's own code turns yellow by their own declaration: said in the reply, not pushed too
    reply = chat.run("1", *YELLOW, "1")
    assert "申报成功" in reply and "黄码" in reply
    burst(svc)
    with svc.db.session() as s:
        pushed = s.scalars(select(Notice).where(Notice.kind == "code_changed")).all()
    assert pushed == []  # (it was: the reply, then "您的健康码由绿码变为黄码…")
    # grandpa turns green by a negative test: the family account hears of it, labelled, no appeal offered
    from bot.domain.codes import reevaluate
    from bot.domain.models import TestResult
    from bot.domain.people import find_person

    with svc.db.session() as s:
        grandpa = find_person(s, svc.vault, "id_card", GRANDPA)
        s.add(TestResult(person_id=grandpa.id, sampled_at=utcnow() + dt.timedelta(minutes=1), result="negative"))
        reevaluate(s, svc.policy, grandpa.id, cause="lab_result", now=utcnow() + dt.timedelta(minutes=5))
    burst(svc)
    with svc.db.session() as s:
        rows = s.execute(select(Notice.id, Notice.kind, Notice.payload, Notice.person_id).where(
            Notice.kind == "code_changed")).all()
    assert len(rows) == 1
    text = say("push.code_changed", **{**rows[0].payload, "link": "http://x/codes/t"})
    assert f"王**（祖父母/外祖父母，尾号{GRANDPA[-4:]}）的健康码已转为绿码" in text and "申诉" not in text


def test_pronouns_and_self_declaration_wording(make_app):
    app, _ = make_app()
    chat = Chat(app, user="o-owner")
    chat.run(*REGISTRATION, *CLEAN, "1")
    added = chat.run("3", "1", "4", "王爷爷", GRANDPA, "1")
    assert "他的健康码变化也会通知您" in added and "Ta" not in added
    added = chat.run("3", "1", "4", "王奶奶", GRANDMA, "1")
    assert "她的健康码变化也会通知您" in added
    assert "为本人（张*）申报" in chat.say("1")
    chat.say("取消")
    unbind = chat.run("3", "4", "2")
    assert "不再收到她的健康码通知" in unbind


def test_binding_yourself_is_refused_before_the_consent_question(make_app):
    app, _ = make_app()
    chat = Chat(app, user="o-owner")
    chat.run(*REGISTRATION, *CLEAN, "1")
    reply = chat.run("3", "1", "5", "张三", REGISTRATION[3])
    assert "不能添加本人" in reply and "同意" not in reply


def test_every_question_says_how_to_leave():
    from tests.test_texts import SAMPLE

    for flow in handlers.flows():
        for name, ask in flow.states.items():
            assert "取消" in say(ask.prompt, **SAMPLE), (flow.name, name)


def test_relative_dates(make_app):
    app, svc = make_app()
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    for said, meant in (("前天", TODAY - dt.timedelta(days=2)), ("3天前", TODAY - dt.timedelta(days=3)),
                        ("三天前", TODAY - dt.timedelta(days=3)),
                        ("上周五", monday - dt.timedelta(days=3))):
        chat = Chat(app, user=f"o-{said}")
        chat.run(*REGISTRATION[:1], "张三", "1", id_card(f"1101011990030{len(said)}{ord(said[0]) % 1000:03d}"),
                 "13812345678")
        chat.run("2", "2", "杭州市西湖区", said)
        reply = chat.run("2", "2", "5", "1")
        assert "申报成功" in reply, (said, reply)
        with svc.db.session() as s:
            assert s.scalar(select(TravelFact.arrival).order_by(TravelFact.id.desc())) == meant, said
    chat = Chat(app, user="o-tomorrow")
    chat.run(*REGISTRATION[:1], "张三", "1", id_card("11010119900309101"), "13812345678", "2", "2", "杭州市")
    assert "日期不能晚于今天" in chat.say("明天")


def test_an_appeal_against_ones_own_green_code_is_explained_not_filed(make_app):
    app, svc = make_app()
    chat = Chat(app, user="o-green")
    chat.run(*REGISTRATION, *CLEAN, "1")
    reply = chat.say("4")
    assert "绿码" in reply and "无需申诉" in reply and "申诉理由" not in reply
    with svc.db.session() as s:
        assert s.scalar(select(Appeal)) is None


def test_free_text_keeps_its_full_width_punctuation(make_app):
    app, svc = make_app()
    chat = Chat(app, user="o-text")
    chat.run(*REGISTRATION, *YELLOW, "1")
    description = "我１１月２０日已解除隔离，报告编号：ＡＢ１２；请核实！"
    chat.run("4", "1", description, "跳过", "1")
    with svc.db.session() as s:
        stored = s.scalar(select(Appeal.description))
    assert stored == "我11月20日已解除隔离，报告编号：AB12；请核实！"  # digits folded, ：；！ kept
    # numbers and choices still fold: a full-width phone and a full-width choice
    other = Chat(app, user="o-wide")
    reply = other.run("1", "李四", "１", id_card("11010119850512301"), "１３９１２３４５６７８")
    assert "境外" in reply


def test_the_date_to_green_is_said_once_with_a_concrete_step(make_app):
    app, svc = make_app()
    with svc.db.session() as s:
        s.add(RiskArea(code="330106001", name="浙江省杭州市西湖区北山街道", level="medium", since=dt.date(2026, 11, 1)))
    chat = Chat(app, user="o-steps")
    reply = chat.run(*REGISTRATION, "2", "2", "浙江省杭州市西湖区北山街道", "昨天", "2", "2", "5", "1")
    dates = re.findall(r"\d{1,2}月\d{1,2}日", reply.split("转绿：", 1)[1]) if "转绿：" in reply else []
    assert len(dates) == len(set(dates)), reply  # no date said twice
    yellow = Chat(app, user="o-symptoms").run(*REGISTRATION[:3], id_card("11010119900101110"), "13800000000",
                                               *YELLOW, "1")
    assert "做一次核酸检测" in yellow and "自动同步" in yellow
