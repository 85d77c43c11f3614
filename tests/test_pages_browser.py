"""Issue 16, in headless Chromium: the code page as people know it (title of the region, a live
clock and a moving dot, masked name and ID, the reason, the latest test, when it turns green,
large text remembered), at phone and desktop sizes. Screenshots go to var/screenshots/."""
from __future__ import annotations

import datetime as dt
import time

from bot.domain.models import Code, TestResult
from bot.infra.db import utcnow
from tests.support.browser import DESKTOP, PHONE, loaded, shot
from tests.support.people import code_path, person_with_code


def _yellow_person(svc) -> int:
    pid = person_with_code(svc, "yellow", name="王小明")
    with svc.db.session() as s:
        code = s.get(Code, pid)
        code.reason, code.green_at = "自述有发热、气促或呼吸道症状", utcnow() + dt.timedelta(days=3)
        s.add(TestResult(person_id=pid, sampled_at=utcnow() - dt.timedelta(hours=30), result="negative", lab="市一院"))
    return pid


def test_the_code_page_at_both_sizes(live, browser):
    from selenium.webdriver.common.by import By

    base, app, svc, _ = live
    pid = _yellow_person(svc)
    url = base + code_path(svc, pid)
    for label, (w, h) in (("phone", PHONE), ("desktop", DESKTOP)):
        browser.set_window_size(w, h)
        browser.get(url)
        text = browser.find_element(By.TAG_NAME, "body").text
        assert browser.find_element(By.ID, "title").text == "浙江健康码"
        assert browser.find_element(By.ID, "name").text == "王**"
        assert "*" in browser.find_element(By.ID, "id-masked").text
        assert browser.find_element(By.ID, "reason").text == "自述有发热、气促或呼吸道症状"
        assert browser.find_element(By.ID, "test").text == "核酸阴性 · 48小时内"
        green = (utcnow() + dt.timedelta(days=3)).astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert browser.find_element(By.ID, "green-at").text == f"预计{green.month}月{green.day}日转为绿码"
        assert loaded(browser, browser.find_element(By.ID, "code"))
        first = browser.find_element(By.ID, "clock").text
        time.sleep(1.3)
        assert browser.find_element(By.ID, "clock").text != first  # a live clock, seconds and all
        pulse = browser.find_element(By.CSS_SELECTOR, ".pulse")
        assert browser.execute_script("return getComputedStyle(arguments[0]).animationName", pulse) == "pulse"
        shot(browser, f"code-page-{label}")
    # large text: on, and still on after a reload (remembered on the phone)
    browser.set_window_size(*PHONE)
    normal = browser.execute_script("return parseFloat(getComputedStyle(document.getElementById('clock')).fontSize)")
    browser.find_element(By.ID, "big").click()
    browser.get(url)
    assert browser.execute_script("return document.body.classList.contains('big')")
    bigger = browser.execute_script("return parseFloat(getComputedStyle(document.getElementById('clock')).fontSize)")
    assert bigger > normal
    shot(browser, "code-page-phone-large-text")
    browser.find_element(By.ID, "big").click()
    browser.get(url)
    assert not browser.execute_script("return document.body.classList.contains('big')")


def test_a_code_page_without_a_test_says_so(live, browser):
    from selenium.webdriver.common.by import By

    base, app, svc, _ = live
    pid = person_with_code(svc, "green")
    browser.get(base + code_path(svc, pid))
    assert browser.find_element(By.ID, "test").text == "暂无核酸检测记录"
    assert not browser.find_elements(By.ID, "green-at")  # green: nothing to wait for
