"""The staff console: sign-in, role pages, CSRF, audited reads; and in headless Chromium a
reviewer deciding an appeal with an evidence image, the citizen's /dev/chat showing the result."""
from __future__ import annotations

import io
import json
import urllib.request

from PIL import Image
from sqlalchemy import func, select

from bot.domain.models import Appeal, AuditLog
from tests.support.staff import sign_in as _login, sign_out
from tests.support.staff import staff_token as _token
from tests.support.chat import REGISTRATION, Chat


def test_sign_in_roles_and_csrf(client, services):
    assert client.get("/console/appeals").status_code == 302  # to the sign-in page
    assert _login(client, "hcs_wrong").status_code == 401
    reviewer = _token(services, "reviewer")
    r = _login(client, reviewer)
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/appeals")
    assert client.get("/console/appeals").status_code == 200
    assert client.get("/console/stats").status_code == 403      # an admin page
    assert client.post("/console/people", data={"id_number": "x" * 18}).status_code == 400  # no CSRF token
    sign_out(client)
    assert client.get("/console/appeals").status_code == 302
    admin = _token(services, "admin")
    _login(client, admin)
    page = client.get("/console/stats")
    assert page.status_code == 200 and b"<svg" in page.data
    assert client.get("/console/appeals").status_code == 200  # admins see the queue too (issue 16)
    assert client.get("/console/arrivals").status_code == 403


def test_a_disabled_account_is_out_at_once(client, services):
    from bot.domain.models import Staff
    from bot.infra.db import utcnow

    t = _token(services, "reviewer")
    _login(client, t)
    with services.db.session() as s:
        s.execute(Staff.__table__.update().values(disabled_at=utcnow()))
    assert client.get("/console/appeals").status_code == 302


def test_reviewer_decides_an_appeal_in_the_browser_and_the_citizen_sees_it(live, browser):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    from tests.support.browser import page_text
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.support.workers import burst
    from workers import notices

    base, app, svc, stub = live
    # a citizen with a yellow code appeals, sending a photo through the platform
    citizen = Chat(app, user="o-citizen")
    citizen.run(*REGISTRATION, "2", "4", "1", "2", "5", "1")
    photo = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 140, 200)).save(photo, "PNG")
    req = urllib.request.Request(stub.base_url + "/_stub/media", data=json.dumps(
        {"hex": photo.getvalue().hex(), "content_type": "image/png"}).encode())
    media_id = json.loads(urllib.request.urlopen(req).read())["media_id"]
    citizen.run("4", "2", "我已经做了核酸检测，结果是阴性")
    citizen.sim.send(citizen.sim.xml(citizen.user, "image", {"PicUrl": "http://x/p.png", "MediaId": media_id}))
    filed = citizen.run("完成", "1")
    number = filed.split("编号 ")[1].split("。")[0]
    burst(svc)  # the worker fetches the photo and seals it
    notices.drain()

    token = _token(svc, "reviewer", name="审核员甲")
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))  # pages reload
    browser.get(base + "/console")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "login").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-number='{number}']"))
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-number='{number}']")
    assert "张*" in row.text and "剩余" in row.text
    row.find_element(By.TAG_NAME, "a").click()
    img = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#evidence img"))
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 120
    assert "我已经做了核酸检测" in browser.find_element(By.ID, "description").text
    assert "黄码" in browser.find_element(By.ID, "history").text
    browser.find_element(By.ID, "corrected").click()
    browser.find_element(By.CSS_SELECTOR, "#colour option[value=green]").click()
    browser.find_element(By.ID, "reply").send_keys("经核实核酸检测阴性，已更正为绿码。")
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: "结果已推送给申诉人" in page_text(d))
    with svc.db.session() as s:
        a = s.scalar(select(Appeal).where(Appeal.number == number))
        assert (a.status, a.outcome, a.decided_colour) == ("decided", "corrected", "green")
        reads = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action.in_(
            ("appeal.read", "appeal.evidence_read")), AuditLog.subject_person_id == a.person_id))
    assert reads >= 2

    # the citizen's chat shows the pushed result
    browser.get(base + "/dev/chat")
    browser.execute_script("document.getElementById('user').value = 'o-citizen';")
    notices.drain()
    wait.until(lambda d: any("申诉" in b.text and "已更正" in b.text
                             for b in d.find_elements(By.CSS_SELECTOR, "#logs .log:not([hidden]) .push")))
    assert "绿码" in citizen.say("2")


def _csrf(client):
    with client.session_transaction() as s:
        return s["csrf"]


def test_risk_area_upload_previews_then_replaces(client, services):
    from bot.domain.models import RiskArea

    _login(client, _token(services, "admin"))
    csv_text = "code,name,level,since\n330106,杭州市西湖区,high,2026-11-20\n"
    page = client.post("/console/areas", data={"csrf": _csrf(client), "file": (io.BytesIO(csv_text.encode()), "a.csv")},
                       content_type="multipart/form-data")
    assert page.status_code == 200 and "预计影响" in page.get_data(as_text=True)
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RiskArea)) == 0
    done = client.post("/console/areas", data={"csrf": _csrf(client), "confirm": "1", "csv_text": csv_text},
                       follow_redirects=True)
    assert "风险地区表已更新" in done.get_data(as_text=True) and "杭州市西湖区" in done.get_data(as_text=True)
    bad = client.post("/console/areas", data={"csrf": _csrf(client), "csv_text": "code\n1\n"})
    assert "文件有误" in bad.get_data(as_text=True)


def test_people_lookup_is_audited_and_scoped(client, services):
    from tests.support.people import person_with_code

    pid = person_with_code(services, "red", name="赵六")
    from bot.domain.models import Person

    with services.db.session() as s:
        s.get(Person, pid).district = "330106"
        number = s.get(Person, pid).id_number
    _login(client, _token(services, "community", ["450100"]))
    page = client.post("/console/people", data={"csrf": _csrf(client), "id_number": number})
    # outside the officer's districts it reads like a number nobody has (issue 15, finding 12)
    assert "没有找到该证件号码的人员" in page.get_data(as_text=True) and "赵六" not in page.get_data(as_text=True)
    sign_out(client)
    _login(client, _token(services, "reviewer"))
    page = client.post("/console/people", data={"csrf": _csrf(client), "id_number": number})
    assert "赵六" in page.get_data(as_text=True) and number in page.get_data(as_text=True)
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "person.lookup", AuditLog.subject_person_id == pid)) == 2
