"""Issue 18 in headless Chromium: a counter clerk registers a person without a phone, declares for
them (the chat's questions, answered on the console page) and prints their paper code; a 12345
operator files an appeal for a caller, a reviewer decides it, and the development SMS log shows
the caller's message. Screenshots go to var/screenshots/."""
from __future__ import annotations

import re
import subprocess
import urllib.request

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import DESKTOP, page_text, shot
from tests.support.chat import CLEAN, id_card
from tests.support.people import person_with_code
from tests.support.staff import staff_token
from tests.test_console_browser import _latin_words, _sign_in

GRANDMA = id_card("33010619400101002")
CALLER = id_card("11010119500101123")


def _type(browser, element_id: str, text: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def _answer(browser, wait, text: str, button: str = "") -> None:
    """Type one answer (or press its choice button) and wait for the page that answers it (a
    new form nonce)."""
    current = "var n = document.getElementsByName('nonce')[0]; return n ? n.value : ''"
    nonce = browser.execute_script(current)
    if button:
        browser.find_element(By.ID, button).click()
    else:
        _type(browser, "answer", text)
        browser.find_element(By.ID, "send").click()
    wait.until(lambda d: d.execute_script(current) != nonce and d.execute_script("return document.readyState")
               == "complete")


def test_a_counter_clerk_registers_declares_and_prints(live, browser, tmp_path):
    base, app, svc, stub = live
    browser.set_window_size(*DESKTOP)
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
    _sign_in(browser, base, staff_token(svc, "counter", name="窗口甲"))
    assert browser.current_url.endswith("/console/counter")
    _type(browser, "name", "李奶奶")
    _type(browser, "id_number", GRANDMA)
    browser.find_element(By.ID, "serve-button").click()       # the boxes not ticked: refused, nothing lost
    wait.until(lambda d: d.find_elements(By.ID, "error-consent"))
    assert browser.find_element(By.ID, "id_number").get_attribute("value") == GRANDMA
    browser.find_element(By.ID, "documents_checked").click()
    browser.find_element(By.ID, "consent").click()
    browser.find_element(By.ID, "serve-button").click()
    wait.until(lambda d: "/console/counter/people/" in d.current_url)
    person = browser.find_element(By.ID, "person").text
    assert "李**" in person and "尚未申报" in person and "手机：无" in person
    assert browser.find_element(By.ID, "no-accounts").is_displayed()
    browser.find_element(By.ID, "declare").click()
    wait.until(lambda d: d.find_elements(By.ID, "start"))
    browser.find_element(By.ID, "start").click()
    wait.until(lambda d: d.find_elements(By.ID, "question"))
    assert "境外" in browser.find_element(By.ID, "question").text   # the chat's own first health question
    _answer(browser, wait, "9")                                      # a wrong answer: the chat's own words
    assert "请回复序号 1 到 2 中的一个数字" in browser.find_element(By.TAG_NAME, "main").text
    for text in CLEAN[:-1]:
        _answer(browser, wait, text)
    _answer(browser, wait, CLEAN[-1])
    assert "请核对申报信息" in browser.find_element(By.ID, "question").text
    assert browser.find_element(By.ID, "choice-1").text == "1 确认提交"
    shot(browser, "counter-declare-summary")
    _answer(browser, wait, "", button="choice-1")
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "申报成功" in main and "绿码" in main and "本人没有绑定的聊天账号" in main
    browser.find_element(By.ID, "done").click()
    wait.until(lambda d: d.find_elements(By.ID, "colour"))
    assert browser.find_element(By.ID, "colour").text == "绿码"
    browser.find_element(By.ID, "print").click()
    link = wait.until(lambda d: d.find_element(By.ID, "paper-link")).get_attribute("href")
    assert not _latin_words(browser.find_element(By.TAG_NAME, "main").text)
    shot(browser, "counter-person-printed")
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(urllib.request.urlopen(link.replace(svc.settings.public_base_url, base)).read())
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "绿码" in text and f"李**（尾号{GRANDMA[-4:]}）" in text


def test_a_hotline_appeal_decided_reaches_the_caller_by_sms(live, browser):
    from tests.support.workers import burst

    base, app, svc, stub = live
    person_with_code(svc, "yellow", name="王大爷", number=CALLER)        # phone on file ends 5678
    browser.set_window_size(*DESKTOP)
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
    _sign_in(browser, base, staff_token(svc, "hotline", name="话务员甲"))
    assert browser.current_url.endswith("/console/hotline")
    for field, text in (("name", "王大爷"), ("id_number", CALLER), ("phone_tail", "5678"),
                        ("callback_phone", "13700001234"), ("description", "做了核酸检测是阴性，健康码还是黄码")):
        _type(browser, field, text)
    browser.find_element(By.CSS_SELECTOR, "#reason_code option[value='2']").click()
    browser.find_element(By.ID, "file").click()
    flash = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".flash")).text
    number = re.search(r"SS\d{14}", flash).group(0)
    assert number in browser.find_element(By.ID, "filed").text
    shot(browser, "hotline-filed")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/logout'] button").click()
    wait.until(lambda d: d.find_elements(By.ID, "token"))
    # a reviewer sees where it came from, and decides
    _sign_in(browser, base, staff_token(svc, "reviewer", name="审核员乙"))
    row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"tr[data-number='{number}']"))
    assert "12345热线" in row.text
    browser.get(f"{base}/console/appeals/{number}")
    assert "来源：12345热线，话务员话务员甲受理" in browser.find_element(By.ID, "source").text
    browser.find_element(By.ID, "upheld").click()
    _type(browser, "reply", "检测结果尚未回传，回传后将自动更新")
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: "结果已推送给申诉人" in page_text(d))
    burst(svc)                                     # the workers send the SMS
    browser.get(f"{base}/dev/sms")
    messages = browser.find_element(By.ID, "messages").text
    assert number in messages and "维持原健康码" in messages and "137****1234" in messages
    assert "13700001234" not in messages
    shot(browser, "dev-sms-hotline-decision")
