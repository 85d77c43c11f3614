"""Issue 20 (健康码国际版) through the webhook: the language kept with the chat account, switched
at any point without losing what was entered, every flow in English with no Chinese in it, and a
passport holder's English declaration end to end: the reply, the pushed image, the code page."""
from __future__ import annotations

import datetime as dt
import io
import re
import urllib.request

from PIL import Image
from sqlalchemy import select, text

from bot.domain.models import ChannelIdentity, Person
from bot.infra.db import SHANGHAI, utcnow
from tests.support.chat import APPID, CLEAN, REGISTRATION, YELLOW, Chat, id_card

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]")
TODAY = utcnow().astimezone(SHANGHAI).date()
CHILD = id_card(f"110105{TODAY.year - 6}0101123")
PASSPORT = ("1", "John O'Brien-Smith", "2", "USA", "123456789", "13812345678")


def caption_of(image: Image.Image) -> bytes:
    """The colour word and the masked name, drawn above the QR (what differs by language)."""
    from bot.infra.images import code_image

    return image.crop((0, 0, code_image.WIDTH, 20 + 44 + 30)).tobytes()


def drawn_caption(colour: str, language: str, latin: bool = True) -> bytes:
    """The caption of J*** O*** (ID ending 6789)'s code as the image code draws it."""
    from bot.infra.images import code_image

    cjk = code_image.find_font(None)
    font = code_image.find_latin_font(None, cjk) if latin else cjk
    assert not latin or font != cjk, "no Latin font on this machine (fonts-dejavu-core)"
    view = code_image.CodeView(1, 1, colour, "J*** O***", None, "6789", "x", language)
    return caption_of(Image.open(io.BytesIO(code_image.render(view, "http://x/v/y", dt.datetime(2026, 11, 30), font))))


class Walk:
    """A chat whose every reply is checked to have no Chinese in it."""

    def __init__(self, app, user):
        self.chat = Chat(app, user=user)
        self.said: list[tuple[str, str]] = []

    def say(self, text: str) -> str:
        reply = self.chat.say(text)
        self.said.append((text, reply))
        assert reply.strip(), f"no answer to {text!r}"
        assert not CJK.search(reply), f"Chinese in the English answer to {text!r}: {CJK.findall(reply)}\n{reply}"
        return reply

    def run(self, *lines: str) -> str:
        reply = ""
        for line in lines:
            reply = self.say(line)
        return reply


def language_of(app, user: str) -> str | None:
    with app.extensions["services"].db.session() as s:
        return s.scalar(select(ChannelIdentity.language).where(ChannelIdentity.external_id == user))


def test_switching_back_and_forth_mid_flow_keeps_what_was_entered(wechat_app):
    chat = Chat(wechat_app, user="o-switcher")
    chat.run("1", "张三", "1")
    switched = chat.say("EN")                          # at the ID number question
    assert switched.startswith("Switched to English.") and "Resident ID card number, please:" in switched
    chat.say(REGISTRATION[3])
    back = chat.say("中文")                             # at the phone question, in Chinese again
    assert back.startswith("已切换为中文。") and "请输入您的11位手机号" in back
    chat.say("13812345678")
    assert "Have you been abroad in the last 14 days?" in chat.say("国际版")
    chat.run(*CLEAN[:-1])
    summary = chat.say(CLEAN[-1])                       # the summary shows all that was entered, in English
    assert f"Declaring for: 张* (Resident ID card 110***********{REGISTRATION[3][-4:]})" in summary
    assert "Phone: 138****5678" in summary and "Health measure: none" in summary
    assert "Declaration made!" in chat.say("1")
    assert language_of(wechat_app, "o-switcher") == "en"
    assert chat.say("中文").startswith("已切换为中文。")  # no flow: the switch and the menu
    assert language_of(wechat_app, "o-switcher") is None


def test_the_language_stays_with_the_account_when_redis_forgets_it(wechat_app):
    chat = Chat(wechat_app, user="o-keeper")
    chat.say("english")
    assert "Common questions" in chat.say("menu")
    redis = wechat_app.extensions["services"].redis.client()
    key = f"chat:lang:wechat:{APPID}:o-keeper"
    assert redis.get(key) == b"en"
    redis.delete(key)                                   # evicted, or 48 hours of silence
    assert not CJK.search(chat.say("menu"))             # read again from channel_identities.language
    assert redis.get(key) == b"en"


def test_every_flow_in_english_says_no_chinese(make_app):
    app, svc = make_app(REGION_POLICY="guangxi-hechi")
    walk = Walk(app, "o-walker")
    menu = walk.say("EN")
    assert "6 Time-limited pass for a yellow code" in menu and "7 Report an arrival" in menu
    walk.say("help")
    walk.chat.image()                                   # a picture where text is wanted
    # 1 declaration: every wrong answer on the way, a passport, symptoms (a yellow code)
    walk.run("1", "J0hn", "John O'Brien-Smith", "9", "2", "Narnia", "USA", "12", "123456789", "12345",
             "13812345678", "1", "tomorrow", "yesterday", "1", "330106", "yesterday", "1", "1", "4", "3", "today",
             "don't know", "2")                       # fill in again
    walk.run("John O'Brien-Smith", "2", "USA", "123456789", "13812345678")
    walk.run("menu", "2")                               # leave? no: back to the question
    walk.run("2", "back", "2", "4")                     # back to the earlier question
    walk.run("1", "2", "5")
    done = walk.say("1")
    assert "Declaration made!" in done and "Yellow code" in done and "Reason: Declared fever" in done
    assert "Reason: Declared fever" in walk.say("my code")
    assert "New code link:" in walk.say("reset link")
    assert "No other account is linked" in walk.say("unbind other accounts")
    # 3 family members: add a child, view, declare for them, start to unlink
    assert "Family member added: L*** S*** (child, ID ending" in walk.run("3", "1", "7", "1", "Lily Smith", "12", CHILD)
    assert "L*** S*** (child, ID ending" in walk.run("3", "2")
    assert "[Health declaration] For L*** S***" in walk.run("3", "3")
    assert "Declaration made! L*** S***'s health code is [🟢Green code]" in walk.run(*CLEAN, "1")
    assert "Unlink L*** S***" in walk.run("3", "4")
    assert "Cancelled." in walk.say("2")
    # 4 appeal with a picture, 5 its progress
    assert "Briefly say what happened" in walk.run("4", "1", "9", "2")
    assert "Send pictures of your evidence" in walk.say("Tested negative yesterday at the district hospital")
    walk.chat.image()
    assert "Please check your appeal:" in walk.say("done")
    assert "Appeal filed, number" in walk.say("1")
    assert "My appeals:" in walk.say("5")
    assert "An appeal is already being handled" in walk.run("4", "1")
    # 6 limited pass, 7 arrival report, 8 paper code
    assert "Your limited pass is on" in walk.run("6", "99", "3", "Qingxiu District, Nanning", "1")
    assert "Your limited pass is valid until" in walk.run("6")
    assert "Report received" in walk.run("7", "450103", "yesterday", "today", "Jinchengjiang District, block 3", "1")
    assert "paper health code" in walk.run("8", "1")
    # 0 questions: the list, one answer, a question in words, one nobody answers
    assert "Why is my code yellow?" in walk.run("0", "1")
    walk.run("0", "99", "cancel")
    assert "A code is yellow for" in walk.say("Why is my code yellow?")
    assert "No answer was found" in walk.say("Where can I get a PCR test near the station?")
    walk.say("cancel")
    assert "No other account acts for you." in walk.say("revoke proxy")
    walk.run("1", "cancel")
    assert "What you have filled in will not be saved" in walk.run("1", "2", "menu")
    assert "Reply with a number to choose" in walk.say("1")
    assert len(walk.said) > 80
    assert language_of(app, "o-walker") == "en"


def test_an_english_declaration_with_a_passport_end_to_end(env):
    """The reply, the pushed image (an English caption in a Latin font) and the code page."""
    from bot import create_app
    from bot.devtools.platform_stub import PlatformStub
    from tests.test_pushes import _messages, _push_services
    from workers import notices

    with PlatformStub() as stub:
        svc = _push_services(env, stub)
        try:
            app = create_app(services=svc)
            walk = Walk(app, "o-visitor")
            walk.say("EN")
            reply = walk.run(*PASSPORT, *CLEAN, "1")
            assert "Declaration made! J*** O***'s health code is [🟢Green code]" in reply
            assert "Reason: No risk found" in reply and "may generally enter public places freely" in reply
            link = re.search(r"(http\S+/codes/\S+)", reply).group(1)
            assert link.endswith("?lang=en")
            with svc.db.session() as s:
                person = s.scalar(select(Person).where(Person.id_type == "passport"))
                assert (person.name, person.id_number, person.nationality) == ("JOHN O'BRIEN-SMITH", "123456789", "USA")
                stored = s.execute(text("SELECT name, nationality FROM people WHERE id_type = 'passport'")).one()
                assert "JOHN" not in stored.name and "USA" not in stored.nationality  # sealed at rest

            assert notices.drain()["delivered"] == 1
            [msg] = _messages(stub, "o-visitor")["messages"]
            png = urllib.request.urlopen(f"{stub.base_url}/_stub/media/{msg['image']['media_id']}", timeout=5).read()
            pushed = Image.open(io.BytesIO(png))
            assert caption_of(pushed) == drawn_caption("green", "en")           # English, in the Latin font
            assert caption_of(pushed) != drawn_caption("green", "en", latin=False)  # not the CJK font's letters
            assert caption_of(pushed) != drawn_caption("green", "zh")

            page = app.test_client().get(link.replace(svc.settings.public_base_url, ""))
            html = page.get_data(as_text=True)
            assert page.status_code == 200 and '<html lang="en">' in html
            assert "Zhejiang Health Code" in html and "Green code" in html and "J*** O***" in html
            assert "A green code may generally enter public places freely" in html
            assert not CJK.search(re.sub(r"<script.*?</script>", "", html, flags=re.S))
        finally:
            svc.close()


def test_the_code_pages_follow_the_visitor(wechat_app):
    chat = Chat(wechat_app, user="o-zh")
    reply = chat.run(*REGISTRATION, *CLEAN, "1")
    path = re.search(r"(/codes/\S+)", reply).group(1)
    assert "?lang=" not in path
    client = wechat_app.test_client()
    assert "绿码" in client.get(path).get_data(as_text=True)                       # no preference: Chinese
    english = client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Green code" in english and "绿码" not in english
    assert "绿码" in client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert "Green code" in client.get(path + "?lang=en").get_data(as_text=True)
    verify = client.get("/verify?lang=en").get_data(as_text=True)
    assert "Offline health code check" in verify and not CJK.search(verify)
    gone = client.get("/codes/nonsense?lang=en")
    assert gone.status_code == 404 and not CJK.search(gone.get_data(as_text=True))


def test_a_code_change_is_pushed_in_each_account_language(env):
    """The same change of colour told to an English account and a Chinese one, each in its own
    language: the reason and what the colour may do from the policy's words."""
    from bot import create_app
    from bot.devtools.platform_stub import PlatformStub
    from tests.support.staff import auth, staff_token
    from tests.test_pushes import _messages, _push_services
    from tests.support.workers import burst
    from workers import notices

    with PlatformStub() as stub:
        svc = _push_services(env, stub)
        try:
            app = create_app(services=svc)
            english, chinese = Chat(app, user="o-en"), Chat(app, user="o-zh")
            english.say("EN")
            assert "Yellow code" in english.run(*PASSPORT, *YELLOW, "1")
            assert "黄码" in chinese.run(*REGISTRATION, *YELLOW, "1")
            notices.drain()
            results = [{"id_number": number, "id_type": kind, "sampled_at": utcnow().isoformat(), "result": "negative",
                        "lab": "District lab"} for kind, number in (("passport", PASSPORT[4]), ("id_card", REGISTRATION[3]))]
            r = app.test_client().post("/api/v1/test-results", json=results, headers=auth(staff_token(svc, "lab")))
            assert r.status_code == 200, r.json
            burst(svc)          # the colour-change fan-out
            notices.drain()
            texts = {m["touser"]: m.get("text", {}).get("content", "") for m in _messages(stub)["messages"]
                     if m["msgtype"] == "text"}
            assert texts["o-en"].startswith("Good news: Your health code is green now.")
            assert "Show your code: " in texts["o-en"] and "?lang=en" in texts["o-en"]
            assert not CJK.search(texts["o-en"])
            assert texts["o-zh"].startswith("好消息：您的健康码已转为绿码")
        finally:
            svc.close()


def test_an_english_paper_code(wechat_app, tmp_path):
    import subprocess

    walk = Walk(wechat_app, "o-printer")
    walk.say("EN")
    walk.run(*PASSPORT, *CLEAN, "1")
    reply = walk.say("8")
    if "Whose paper health code" in reply:
        reply = walk.say("1")
    assert "paper health code (Green code) is ready" in reply
    link = re.search(r"(http\S+\.pdf\S*)", reply).group(1)
    assert link.endswith("?lang=en")
    r = wechat_app.test_client().get(link.replace(wechat_app.extensions["services"].settings.public_base_url, ""))
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    (tmp_path / "paper.pdf").write_bytes(r.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "paper.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Zhejiang Health Code" in text and "Green code" in text and "J*** O*** (ID ending 6789)" in text
    assert "Valid until" in text and "Printed" in text and not CJK.search(text)
    assert re.search(r"Valid until \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d", text)


def test_codes_from_before_get_their_english_from_a_reevaluation(services):
    """A code stored before 国际版 has no English wording: `flask policy reevaluate` (a batch run)
    fills it in even where nothing else about the code changes."""
    from bot.domain.models import Code
    from bot.domain.reevaluation import reevaluate_batch
    from tests.support.people import person_with_code

    pid = person_with_code(services, "green")
    with services.db.session() as s:
        s.get(Code, pid).rule, s.get(Code, pid).reason = "Z11", "无风险状态"
        s.get(Code, pid).next_step = "请继续做好个人防护"
    with services.db.session() as s:
        processed, changes = reevaluate_batch(s, services.policy, [pid], cause="policy_change")
    assert processed == 1 and changes == []
    with services.db.session() as s:
        code = s.get(Code, pid)
        assert code.wording == {"en": {"reason": "No risk found", "next_step": "Keep protecting yourself and others"}}
        assert (code.version, code.reason) == (1, "无风险状态")


def test_the_english_pages_in_a_browser(live, browser):
    """In headless Chromium: the code page an English account's link opens, and the offline
    verifier in English, its words filled in by the page's script."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.support.browser import loaded, page_text, shot

    base, app, svc, stub = live
    walk = Walk(app, "o-browser")
    walk.say("EN")
    reply = walk.run(*PASSPORT, *YELLOW, "1")
    link = re.search(r"(http\S+/codes/\S+)", reply).group(1)
    browser.get(base + link[len(svc.settings.public_base_url):])
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.ID, "title").text == "Zhejiang Health Code"
    assert browser.find_element(By.ID, "colour").text == "Yellow code"
    assert browser.find_element(By.ID, "reason").text == "Declared fever, shortness of breath or respiratory symptoms"
    assert browser.find_element(By.ID, "test").text == "No PCR test on record"
    image = browser.find_element(By.ID, "code")
    assert loaded(browser, image)
    request = urllib.request.Request(image.get_attribute("src"), headers={"Accept-Language": "zh-CN,zh"})  # as the phone
    assert caption_of(Image.open(io.BytesIO(urllib.request.urlopen(request, timeout=5).read()))) == \
        drawn_caption("yellow", "en")
    browser.execute_script("document.dispatchEvent(new Event('visibilitychange'))")  # the page refreshes the image
    assert "lang=en" in browser.find_element(By.ID, "code").get_attribute("src")
    assert not CJK.search(page_text(browser))
    shot(browser, "code-page-english")
    browser.get(base + "/verify?lang=en")
    WebDriverWait(browser, 15).until(lambda d: "Verification keys updated" in d.find_element(By.ID, "keys-state").text)
    browser.find_element(By.ID, "code").send_keys("not a code")
    browser.find_element(By.ID, "check").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "result").get_attribute("data-verdict"))
    assert browser.find_element(By.ID, "result").text == "Not a health code"
    assert not CJK.search(page_text(browser))


def test_staff_find_a_passport_holder_by_number(wechat_app):
    """The search key of a passport (its type and number, hashed) finds the person; the answer
    masks the Latin name."""
    from tests.support.staff import auth, staff_token

    services = wechat_app.extensions["services"]
    walk = Walk(wechat_app, "o-found")
    walk.say("EN")
    walk.run(*PASSPORT, *CLEAN, "1")
    r = wechat_app.test_client().post("/api/v1/lookups", json={"id_type": "passport", "id_number": "1234 56789",
                                                                "venue": "Station east gate"},
                                      headers=auth(staff_token(services, "scanner")))
    assert r.status_code == 200, r.json
    assert (r.json["colour"], r.json["masked_name"]) == ("green", "J*** O***")
    assert "BRIEN" not in r.get_data(as_text=True)


def test_a_flood_reads_no_database_for_the_language(make_app, monkeypatch):
    """Past the per-minute limit the answer costs Redis only: the language comes with begin()'s
    reply, even when the account is English."""
    from bot.chat.service import ChatService

    app, _ = make_app(CHAT_RATE_PER_MIN=5)
    chat = Chat(app, user="o-flood")
    chat.say("EN")
    app.extensions["services"].redis.client().delete(f"chat:lang:wechat:{APPID}:o-flood")  # as after 48 hours
    looked_up = []
    original = ChatService._stored_language
    monkeypatch.setattr(ChatService, "_stored_language", lambda self, msg: looked_up.append(1) or original(self, msg))
    replies = [chat.say("menu") for _ in range(8)]
    assert len(looked_up) == 1  # the first message to handle reads it back; the flood after it does not
    slowed = [r for r in replies if r.startswith("You are sending too fast")]
    assert len(slowed) == 1 and not CJK.search(slowed[0])
