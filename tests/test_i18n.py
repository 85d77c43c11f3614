"""Issue 20 (国际版), the catalogs: the chat's sentences are marked in the templates, extracted with
Babel and looked up per language; the English catalog has every marked sentence, in English."""
from __future__ import annotations

import re

import pytest

from bot.infra import texts
from bot.infra.config import ROOT

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]")


def extracted() -> set[str]:
    """What `make translations` extracts from the templates (babel.cfg)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    return {message for _file, _line, message, _comments, _context in
            extract_from_dir(str(ROOT), method_map, options_map) if isinstance(message, str)}


def english() -> dict[str, str]:
    from babel.messages.pofile import read_po

    with open(ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="en") if m.id}


def test_every_marked_sentence_has_its_english_form_and_none_is_stale():
    marked, catalog = extracted(), english()
    assert len(marked) >= 30
    missing = sorted(m for m in marked if not catalog.get(m))
    assert not missing, f"sentences without English (run make translations, then translate): {missing}"
    chinese = sorted(m for m in marked if CJK.search(catalog[m]))
    assert not chinese, f"English forms with Chinese in them: {chinese}"
    assert not sorted(set(catalog) - marked), "catalog entries no template uses any more"
    for msgid in marked:  # a translation uses only the values the sentence is given (it may leave
        # one out: English says "their code" where Chinese names 他 or 她)
        assert set(re.findall(r"%\(\w+\)s", catalog[msgid])) <= set(re.findall(r"%\(\w+\)s", msgid)), msgid


def test_the_translated_files_have_no_unmarked_chinese():
    """In a file marked as translated, Chinese text appears only inside _("…")."""
    for module in texts.TRANSLATED:
        source = (texts.TEMPLATES / f"{module}.txt").read_text(encoding="utf-8")
        source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)            # comments
        source = re.sub(r'_\("(?:[^"\\]|\\.)*"', "", source)            # marked sentences
        assert not CJK.search(source), f"{module}.txt has unmarked Chinese: {CJK.findall(source)[:5]}"


def latin_sample() -> dict:
    """test_texts' values for every sentence, with Latin words where it has Chinese ones: the
    Chinese an English reply could then show can only be the templates' own."""
    from tests.test_texts import SAMPLE

    member = {"name_masked": "M*** L***", "relationship": "parent", "tail": "0021", "pronoun": "she"}
    sample = dict(SAMPLE, q="Why is my code yellow?", a="Because.", reason="symptoms declared",
                  next_step="turns green after a negative test", name_masked="J*** S***", who="J*** S***",
                  origin="Xihu District, Hangzhou", reply="Checked and corrected.", relationship="parent",
                  destination="Qingxiu District", description="Tested negative", name="JOHN SMITH",
                  may="A yellow code may go out with protection.", pronoun="she", owner_masked="W*** L***",
                  member_masked="M*** L***", member=member, nationality="USA",
                  code={"colour": "yellow", "name_masked": "J*** S***", "since": "2026-11-20T08:00:00+00:00"},
                  family=[{"name_masked": "M*** L***", "relationship": "parent", "colour": "green"}],
                  members=[dict(member, colour="yellow", reason="symptoms declared", link="http://x/c", person_id=2)],
                  subjects=[{"name_masked": "J*** S***", "relationship": "self", "person_id": 1}],
                  subject={"name_masked": "J*** S***"},
                  appeals=[dict(SAMPLE["appeals"][0], name_masked="J*** S***")],
                  closest=[{"number": 1, "q": "Why is my code yellow?"}],
                  entries=[{"number": 1, "q": "Why is my code yellow?"}],
                  ended=[{"owner_masked": "W*** L***", "relation": "child"}],
                  bound_by=[{"owner_masked": "W*** L***", "relation": "parent"}])
    assert not CJK.search(repr(sample)), [k for k, v in sample.items() if CJK.search(repr(v))]
    return sample


@pytest.mark.parametrize("module", texts.TRANSLATED)
def test_the_translated_files_say_everything_in_english(module):
    sample = latin_sample()
    token = texts.language.set("en")
    try:
        for key in texts.keys(module):
            said = texts.say(key, **dict(sample, code=sample["code"] if module == "menu" else "123456"))
            assert said.strip() and not CJK.search(said), (key, said)
    finally:
        texts.language.reset(token)
    assert CJK.search(texts.say("common.busy"))  # the language is per context: Chinese again


def test_dates_in_english_form():
    import datetime as dt

    token = texts.language.set("en")
    try:
        menu = texts.say("menu.main", items=[], code={"colour": "green", "name_masked": "J*** S***",
                                                      "since": "2026-11-30T14:05:00+08:00"})
        assert menu.startswith("You have a [Green code] (J*** S***, since 30 Nov 2026 14:05).")
        assert texts.format_date(dt.date(2026, 12, 1)) == "1 Dec 2026"
    finally:
        texts.language.reset(token)
    assert texts.format_date(dt.date(2026, 12, 1)) == "12月1日"


def test_chinese_is_unchanged_by_the_marking():
    assert texts.say("common.busy") == "系统繁忙，请稍后再发一次（您已填写的内容仍然保留）。"
    assert texts.say("common.text_please", kind="image") == "暂时无法识别图片，请发送文字。"
    menu = texts.say("menu.main", items=[{"number": 1, "name": "declare"}],
                     code={"colour": "green", "name_masked": "张*", "since": "2026-11-30T14:05:00+08:00"})
    assert menu.startswith("您当前是【绿码】（张*，") and "1 健康申报（申领/更新我的健康码）" in menu


@pytest.mark.parametrize("name", ["zhejiang", "yunnan", "guangxi-hechi"])
def test_the_shipped_policies_say_everything_in_english(name):
    """Every rule's reason and next step, what each colour may do, and the code's title, in
    English; each example's decision has them filled in, its dates in English form."""
    from bot.domain.rules.facts import parse_facts
    from bot.domain.rules.loading import load_policy

    policy = load_policy(name)
    words = policy.words("en")
    assert words["code_title"] != policy.code_title and not CJK.search(repr(words))
    assert set(words["may"]) == {"green", "yellow", "red"}
    for rule in policy.rules:
        assert rule.translations.get("en"), f"{name}: rule {rule.id} has no English"
        assert not CJK.search(repr(rule.translations["en"])), rule.id
    for example in policy.examples:
        facts, now = parse_facts(example["facts"])
        decision = policy.evaluate(facts, now or example["now"] or policy.examples_now)
        english = decision.wording["en"]
        said = english["reason"] + english["next_step"]
        # a staff designation's reason is the staff's own (Chinese) words: English says who decided
        assert not CJK.search(said) and "{" not in said, (example["name"], english)
        assert CJK.search(decision.reason + decision.next_step)  # the source text stays Chinese, dates and all
