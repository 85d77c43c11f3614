"""The development chat page in a real headless Chromium: a whole declaration, then safe mode."""
from tests.support.chat import CLEAN, REGISTRATION

def test_declaration_on_the_dev_chat_page(live, browser):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, _, svc, _ = live
    browser.get(base + "/dev/chat")
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))  # pages reload
    box = browser.find_element(By.ID, "text")

    def bot_bubbles():
        return browser.find_elements(By.CSS_SELECTOR, "#logs .log:not([hidden]) .bot")

    def send(text):
        before = len(bot_bubbles())
        box.send_keys(text)
        browser.find_element(By.ID, "send").click()
        wait.until(lambda d: len(bot_bubbles()) > before)
        return bot_bubbles()[-1].text

    browser.find_element(By.CSS_SELECTOR, "button[data-event=subscribe]").click()
    wait.until(lambda d: bot_bubbles())
    assert "欢迎关注" in bot_bubbles()[-1].text
    assert "姓名" in send("1")
    assert "证件" in send("张3") and "不能有数字" in bot_bubbles()[-1].text
    for answer in (*REGISTRATION[1:], *CLEAN):
        send(answer)
    done = send("1")
    assert "申报成功" in done and "绿码" in done and "/codes/" in done

    Select(browser.find_element(By.ID, "mode")).select_by_value("safe")
    shown = send("2")
    assert "张*的健康码" in shown and "绿码" in shown
    mine = browser.find_elements(By.CSS_SELECTOR, "#logs .log:not([hidden]) .me")
    assert mine[-1].text == "2"

    from sqlalchemy import func, select

    from bot.domain.models import Declaration

    with svc.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Declaration)) == 1

    # the worker's pushes (the code image after the declaration and after "2") show on the page
    from workers import notices, runtime

    runtime.use(svc)
    assert notices.drain()["delivered"] == 2
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#logs .log:not([hidden]) .push img")) == 2)
    img = browser.find_elements(By.CSS_SELECTOR, "#logs .log:not([hidden]) .push img")[-1]
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 360


def test_links_users_and_coloured_pushes_on_the_dev_chat_page(live, browser):
    """Issue 16: links are clickable, switching the user shows only that user's conversation and
    pushes, and a push bubble is tinted with the code's colour."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.support.browser import shot
    from tests.support.chat import Chat, YELLOW, id_card
    from workers import notices, runtime

    base, app, svc, _ = live
    runtime.use(svc)
    Chat(app, user="o-green").run(*REGISTRATION, *CLEAN, "1")
    Chat(app, user="o-yellow").run(REGISTRATION[0], "李四", "1", id_card("11010119850512301"), "13912345678", *YELLOW, "1")
    notices.drain()
    wait = WebDriverWait(browser, 15)
    browser.get(base + "/dev/chat")
    visible = "#logs .log:not([hidden])"

    def switch(user):
        field = browser.find_element(By.ID, "user")
        field.clear()
        field.send_keys(user)
        browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", field)

    switch("o-yellow")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{visible} .push img"))
    push = browser.find_element(By.CSS_SELECTOR, f"{visible} .push")
    assert "yellow" in push.get_attribute("class").split()
    box = browser.find_element(By.ID, "text")
    box.send_keys("2")
    browser.find_element(By.ID, "send").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{visible} .bot a[href*='/codes/']"))
    link = browser.find_element(By.CSS_SELECTOR, f"{visible} .bot a[href*='/codes/']")
    assert link.get_attribute("href") == link.text and link.get_attribute("target") == "_blank"
    shot(browser, "dev-chat-yellow-user")
    switch("o-green")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{visible} .push img"))
    shown = browser.find_elements(By.CSS_SELECTOR, f"{visible} .msg")
    assert all("yellow" not in m.get_attribute("class") for m in shown)   # only this user's pushes
    assert not browser.find_elements(By.CSS_SELECTOR, f"{visible} .bot a")  # nor the other's replies
    assert "green" in browser.find_element(By.CSS_SELECTOR, f"{visible} .push").get_attribute("class").split()
