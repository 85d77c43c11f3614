"""Every sentence renders, fits a phone screen and WeChat's 2048-byte passive reply."""
import datetime as dt
import json

import pytest

from bot.web.channels import PASSIVE_TEXT_BYTES, fit_text
from bot.infra.config import ROOT
from bot.infra.texts import TEMPLATES, keys, say
from bot.chat.faq import entries
from handlers.faq import find as find_in

SAMPLE = dict(verdict="expired",
    kind="image", n=4, max=100, length=12, days=21, earliest="2026-11-02", minutes=5, code={"colour": "yellow",
    "name_masked": "张*", "since": "2026-11-20T08:00:00+00:00"}, items=[{"number": 1, "name": "declare"},
    {"number": 0, "name": "faq"}], entries=[], q="问", a="答", colour="yellow", reason="自述有症状",
    next_step="核酸检测阴性后转为绿码", since="2026-11-21T01:00:00+00:00", reevaluate_at="2026-11-26T00:00:00+08:00",
    link="http://127.0.0.1:8000/codes/abc", name_masked="张*", family=[{"name_masked": "李*", "relationship": "parent",
    "colour": "green"}], error="id_taken", who="张*", phone="13812345678", id_type="id_card",
    id_masked="110***********7571", phone_masked="138****5678", overseas=True, overseas_arrival="2026-11-20",
    travel=1, origin="杭州市西湖区", arrival="2026-11-20", symptoms=True, case="close_contact",
    measure="home_health_observation", options={}, code_value="123456", at=dt.datetime(2026, 11, 22, 9, 5),
    until=dt.datetime(2026, 11, 22, 11, 5), old="yellow", new="red", proxy=True, number="SS20261122000001",
    outcome="corrected", reply="经核实已更正", deadline="2026-11-23T09:00:00+08:00", left_on="2026-11-20",
    arrival_on="2026-11-21", lo=1, hi=24, relationship="父母", hours=3, destination="南宁市某小区",
    members=[{"name_masked": "李**", "relationship": "祖父母/外祖父母", "colour": "yellow", "reason": "自述有症状",
              "link": "http://127.0.0.1:8000/codes/x", "person_id": 2}], member={"name_masked": "李**", "relationship": "父母", "tail": "0021", "pronoun": "she"},
    subjects=[{"name_masked": "张*", "relationship": "本人", "person_id": 1}], subject={"name_masked": "张*"},
    reason_code=2, description="已做核酸检测", images=2, count=1, appeals=[{
        "number": "SS20261122000001", "name_masked": "张*", "status": "open", "deadline": "2026-11-23T09:00:00+08:00",
        "overdue": False, "outcome": None, "reply": None}], min=5, error_name="x", until_text="15:30", relation="grandparent", page="appeals",
    areas=2, people_affected=1, may="黄码在做好个人防护前提下可外出，但不得乘坐公共交通工具。",
    green_at="2026-11-26T00:00:00+08:00", measure_start="2026-11-20", measure_end="2026-11-27", name="张三",
    id_number="110101199003077571", bind_phone="138****5678", channel="wechat_mp", how="sms", owner_masked="王*",
    member_masked="李*", ended=[{"owner_masked": "王*", "relation": "child"}],
    bound_by=[{"owner_masked": "王*", "relation": "parent"}], corrected=True, tail="1234", pronoun="she", district="330110",
    closest=[{"number": 1, "q": "为什么我是黄码？"}, {"number": 2, "q": "黄码怎样转为绿码？"}])


@pytest.mark.parametrize("module", sorted(p.stem for p in TEMPLATES.glob("*.txt")))
def test_every_message_renders_and_fits(module):
    names = keys(module)
    assert names, module
    for key in names:
        text = say(key, **dict(SAMPLE, code=SAMPLE["code"] if module == "menu" else "123456"))
        assert text.strip(), key
        assert len(text.encode()) < PASSIVE_TEXT_BYTES, key
        assert "\n\n\n" not in text, key


def test_menu_with_every_item_fits():
    items = [{"number": n, "name": name} for n, name in enumerate(
        ["faq", "declare", "my_code", "family", "appeal", "appeal_status", "limited_pass", "arrival_report"])]
    text = say("menu.main", items=items, code=SAMPLE["code"])
    assert "黄码" in text and "7 返程报备" in text and len(text.encode()) < 1000


def test_faq_knowledge_base():
    data = json.loads((ROOT / "config" / "faq.json").read_text(encoding="utf-8"))["entries"]
    assert len(data) >= 10
    for e in entries():
        text = say("faq.answer", q=e["q"], a=e["a"])
        assert len(text.encode()) < PASSIVE_TEXT_BYTES, e["q"]
        assert e["keywords"], e["q"]
    listing = say("faq.list", entries=entries())
    assert len(listing.encode()) < PASSIVE_TEXT_BYTES
    assert find_in(entries(), "黄码怎么转绿")["q"] == "黄码怎样转为绿码？"
    assert "家人代办" in find_in(entries(), "老年人不会用手机")["a"]
    assert "12345" in find_in(entries(), "赋码错误要申诉")["a"]
    assert "加密" in find_in(entries(), "我的隐私会泄露吗")["a"]
    assert "互认" in find_in(entries(), "外省的健康码能用吗")["a"]


def test_fit_text_cuts_on_a_character_boundary():
    long = "健康码" * 1000
    cut = fit_text(long)
    assert len(cut.encode()) <= PASSIVE_TEXT_BYTES and cut.endswith("…")
    cut.encode("utf-8").decode("utf-8")
    assert fit_text("短") == "短"
