"""Issue 16, the console in headless Chromium: the appeal detail (who filed it for whom, the
evidence with its status, the facts with ids, reply templates, release and reassign), the audit
log readable (staff names, Chinese actions, labelled details, no English words), the stats (a
single day of data still draws). Screenshots go to var/screenshots/."""
from __future__ import annotations

import json
import re
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from bot.domain.models import Appeal
from tests.support.browser import DESKTOP, loaded, page_text, shot
from tests.support.chat import CLEAN, REGISTRATION, YELLOW, Chat, id_card
from tests.support.images import picture
from tests.support.staff import staff_token

GRANDMA = id_card("11010519490101002")
ALLOWED_LATIN = {"JPEG", "PNG", "GIF", "WebP"}  # format names, said as they are


def _latin_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in ALLOWED_LATIN}


def _sign_in(browser, base, token):
    browser.get(base + "/console")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 15).until(lambda d: "/console/login" not in d.current_url and d.find_elements(
        By.CSS_SELECTOR, "form[action$='/logout']"))


def _appeal_for_grandma(app, svc, stub) -> str:
    from tests.support.workers import burst

    owner = Chat(app, user="o-owner")
    owner.run(*REGISTRATION, *CLEAN, "1")
    owner.run("3", "1", "4", "王奶奶", GRANDMA, "1")
    owner.run("3", "3", *YELLOW, "1")                     # declared for her: yellow
    req = urllib.request.Request(stub.base_url + "/_stub/media", data=json.dumps(
        {"hex": picture("PNG", size=(160, 100)).hex(), "content_type": "image/png"}).encode())
    media_id = json.loads(urllib.request.urlopen(req).read())["media_id"]
    owner.run("4", "2", "2", "奶奶已经做了核酸检测，结果是阴性")
    owner.sim.send(owner.sim.xml(owner.user, "image", {"PicUrl": "http://x/p.png", "MediaId": media_id}))
    filed = owner.run("完成", "1")
    burst(svc)
    return filed.split("编号 ")[1].split("。")[0]


def test_appeal_detail_audit_log_and_stats(live, browser):
    base, app, svc, stub = live
    number = _appeal_for_grandma(app, svc, stub)
    browser.set_window_size(*DESKTOP)
    wait = WebDriverWait(browser, 15)
    reviewer = staff_token(svc, "reviewer", name="审核员甲")
    staff_token(svc, "reviewer", name="审核员乙")
    _sign_in(browser, base, reviewer)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-number='{number}']"))
    browser.get(f"{base}/console/appeals/{number}")
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "由家人张*代为提交（祖父母/外祖父母）" in browser.find_element(By.ID, "filed-by").text
    img = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#evidence img"))
    wait.until(lambda d: loaded(d, img))
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 160
    facts = browser.find_element(By.ID, "facts").text
    assert re.search(r"申报 #\d+", facts)  # each fact with its id
    assert "本人申报" in browser.find_element(By.ID, "history").text and "declaration" not in main
    assert "审核员甲（审核员）" in browser.find_element(By.TAG_NAME, "body").text  # the role in Chinese
    # a reply template fills the answer and picks its outcome
    browser.find_element(By.CSS_SELECTOR, "#reply-template option[value='3']").click()
    assert "材料不足" in browser.find_element(By.ID, "reply").get_attribute("value")
    assert browser.find_element(By.ID, "upheld").is_selected()
    assert not _latin_words(browser.find_element(By.TAG_NAME, "body").text)
    shot(browser, "console-appeal-detail")
    # hand it over to the other reviewer
    browser.find_element(By.XPATH, "//select[@id='handover-to']/option[contains(., '审核员乙')]").click()
    browser.find_element(By.ID, "handover-submit").click()
    wait.until(lambda d: "已转交" in page_text(d))
    with svc.db.session() as s:
        from bot.domain.models import Staff

        holder = s.scalar(select(Staff.name).join(Appeal, Appeal.claimed_by_id == Staff.id))
    assert holder == "审核员乙"

    # the admin: the queue, the audit log, the stats
    browser.find_element(By.CSS_SELECTOR, "form[action$='/logout'] button").click()
    _sign_in(browser, base, staff_token(svc, "admin", name="管理员丙"))
    browser.get(base + "/console/appeals")
    assert number in browser.find_element(By.TAG_NAME, "main").text  # admins see the queue too
    browser.get(base + "/console/audit")
    audit = browser.find_element(By.ID, "audit").text
    assert "转交给：审核员乙" in audit and "原承办人：审核员甲" in audit
    assert "审核员甲" in audit and "转交申诉" in audit and "查看申诉" in audit and "staff 2" not in audit
    assert "证件号" in audit or "编号" in audit  # labelled fields, not a dict
    assert "{'" not in audit, audit
    assert not _latin_words(browser.find_element(By.TAG_NAME, "body").text)
    shot(browser, "console-audit-log")
    browser.get(base + "/console/stats")
    dots = browser.find_elements(By.CSS_SELECTOR, "#chart circle[data-colour]")
    assert len(dots) >= 3  # one day of data: a dot per colour, readable
    assert "失败的后台任务" in browser.find_element(By.TAG_NAME, "main").text
    assert not _latin_words(browser.find_element(By.TAG_NAME, "body").text)
    shot(browser, "console-stats")
