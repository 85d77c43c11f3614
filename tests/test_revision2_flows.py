"""Rules revision 2 end to end: a self-declared measure turning green by time through a real
worker, a positive lab upload (red, a push, the alert in the API and the console), an appeal
corrected by voiding a wrong trip, an unmatched arrival origin classified by staff, and the
words that follow the region policy."""
from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest
from sqlalchemy import select, update

from bot.domain.codes import person_facts
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import Alert, ArrivalReport, Code, CodeHistory, Measure, Notice, Person, TravelFact
from tests.support.chat import REGISTRATION, WECHAT_ENV, Chat
from tests.support.workers import start_worker, stop_worker, wait_for
from tests.support.staff import sign_in as _login
from tests.support.staff import staff_token as _token
from tests.support.workers import burst
from workers import notices

ID_NUMBER = REGISTRATION[3]


def today():
    return utcnow().astimezone(SHANGHAI).date()


def words(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def stub_texts(stub, user):
    body = json.loads(urllib.request.urlopen(f"{stub.base_url}/_stub/messages?touser={user}", timeout=5).read())
    return [m["text"]["content"] for m in body["messages"] if m.get("msgtype") == "text"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
def test_a_declared_home_observation_turns_green_at_its_end_through_a_real_worker(live, env, tmp_path):
    base, app, svc, stub = live
    chat = Chat(app, user="o-observed")
    started = today() - dt.timedelta(days=6)  # 7 days by default: the last day is today
    reply = chat.run(*REGISTRATION, "2", "4", "2", "2", "3", started.isoformat(), "不清楚", "1")
    tomorrow = today() + dt.timedelta(days=1)
    assert "黄码" in reply and f"预计{words(tomorrow)}转为绿码" in reply, reply
    with svc.db.session() as s:
        code = s.scalar(select(Code))
        pid = code.person_id
        assert code.green_at == code.reevaluate_at == dt.datetime.combine(tomorrow, dt.time(), SHANGHAI)
    notices.drain()  # the code image

    # a day passes (as the tick tests drive the clock: the facts move a day back, the tick is due now)
    with svc.db.session() as s:
        s.execute(update(Measure).where(Measure.person_id == pid).values(start=started - dt.timedelta(days=1)))
        s.execute(update(Code).where(Code.person_id == pid).values(reevaluate_at=utcnow() - dt.timedelta(seconds=1)))
    from bot.infra import ticks

    assert ticks.schedule(svc, utcnow())
    worker = start_worker({**env, **WECHAT_ENV, "WECHAT_API_BASE": stub.base_url}, tmp_path / "worker.log")
    try:
        assert wait_for(lambda: any("已转为绿码" in t for t in stub_texts(stub, "o-observed")), 60), \
            (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_worker(worker)
    with svc.db.session() as s:
        code = s.get(Code, pid)
        assert (code.colour, code.green_at) == ("green", None)
        last = s.scalars(select(CodeHistory).order_by(CodeHistory.version.desc())).first()
        assert (last.old_colour, last.new_colour, last.cause) == ("yellow", "green", "time")
        assert s.scalar(select(Notice.status).where(Notice.kind == "code_changed")) == "delivered"


def test_a_positive_lab_upload_is_red_pushed_and_alerted(live, browser):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    from tests.support.browser import page_text
    from selenium.webdriver.support.ui import WebDriverWait

    base, app, svc, stub = live
    chat = Chat(app, user="o-positive")
    assert "绿码" in chat.run(*REGISTRATION, "2", "4", "2", "2", "5", "1")
    notices.drain()
    client = app.test_client()
    lab = _token(svc, "lab")
    sampled = utcnow() - dt.timedelta(hours=3)
    r = client.post("/api/v1/test-results", headers=auth(lab), json=[
        {"id_number": ID_NUMBER, "sampled_at": sampled.isoformat(), "result": "positive", "lab": "市疾控中心"}])
    assert r.status_code == 200 and (r.json["colour_changes"], r.json["alerts"]) == (1, 1), r.json
    with svc.db.session() as s:
        person = s.scalar(select(Person))
        assert (s.get(Code, person.id).colour, s.get(Code, person.id).rule) == ("red", "Z0")
        district = person.district
    burst(svc)  # the colour change fans out to the accounts
    notices.drain()
    [pushed] = [t for t in stub_texts(stub, "o-positive") if "红码" in t]
    assert "由绿码变为红码" in pushed and "阳性" in pushed

    reviewer = _token(svc, "reviewer")
    listed = client.get("/api/v1/alerts", headers=auth(reviewer)).json["alerts"]
    assert [(a["subject_masked"], a["colour"], a["status"]) for a in listed] == [("张*", "red", "open")]
    mine = _token(svc, "community", scope=[district[:4]])
    other = _token(svc, "community", scope=["4401"])
    assert len(client.get("/api/v1/alerts", headers=auth(mine)).json["alerts"]) == 1
    assert client.get("/api/v1/alerts", headers=auth(other)).json["alerts"] == []
    alert_id = listed[0]["id"]
    assert client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=auth(other),
                       json={"case_status": "confirmed"}).status_code == 403

    # the console: a reviewer sees the alert and voids the false positive
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(base + "/console")
    browser.find_element(By.ID, "token").send_keys(reviewer)
    browser.find_element(By.ID, "login").click()
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "阳性待核"))
    browser.find_element(By.LINK_TEXT, "阳性待核").click()
    row = wait.until(lambda d: d.find_element(By.ID, f"alert-{alert_id}"))
    assert "张*" in row.text and "红码" in row.text and "市疾控中心" in row.text
    row.find_element(By.NAME, "void").click()
    row.find_element(By.NAME, "reason").send_keys("样本混采复核为阴性，原结果作废")
    row.find_element(By.CSS_SELECTOR, "button").click()
    wait.until(lambda d: "已按规则重新赋码" in page_text(d))
    with svc.db.session() as s:
        alert = s.get(Alert, alert_id)
        assert (alert.status, alert.resolution) == ("resolved", "voided")
        assert s.get(Code, person.id).colour == "green"
    browser.get(base + "/console/alerts?status=resolved")
    assert "已作废结果" in wait.until(lambda d: d.find_element(By.ID, f"alert-{alert_id}")).text


def test_resolving_an_alert_with_a_case_status_lets_the_case_rules_decide(client, services):
    from tests.support.people import person_with_code

    pid = person_with_code(services, "green", number=ID_NUMBER)
    with services.db.session() as s:
        s.execute(update(Person).where(Person.id == pid).values(district="110101"))
    lab = _token(services, "lab")
    r = client.post("/api/v1/test-results", headers=auth(lab), json={"results": [
        {"id_number": ID_NUMBER, "sampled_at": (utcnow() - dt.timedelta(hours=2)).isoformat(), "result": "positive",
         "lab": "A"}]})
    assert r.json["alerts"] == 1
    reviewer = _token(services, "reviewer")
    alert_id = client.get("/api/v1/alerts", headers=auth(reviewer)).json["alerts"][0]["id"]
    r = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=auth(reviewer), json={"case_status": "suspected"})
    assert r.status_code == 200 and (r.json["colour"], r.json["rule"]) == ("red", "Z1"), r.json
    assert client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=auth(reviewer),
                       json={"case_status": "suspected"}).status_code == 409
    assert client.get("/api/v1/alerts", headers=auth(reviewer)).json["alerts"] == []
    # a second positive alert, answered through the measures route: resolved there too
    client.post("/api/v1/test-results", headers=auth(lab), json=[
        {"id_number": ID_NUMBER, "sampled_at": (utcnow() - dt.timedelta(hours=1)).isoformat(), "result": "positive",
         "lab": "B"}])
    community = _token(services, "community", scope=["110101"])
    assert client.post(f"/api/v1/people/{pid}/measures", headers=auth(community),
                       json={"action": "start", "kind": "confirmed"}).status_code == 200
    assert client.get("/api/v1/alerts", headers=auth(reviewer)).json["alerts"] == []


def test_an_appeal_corrected_by_voiding_a_wrong_trip_stays_green(wechat_app):
    app = wechat_app
    services = app.extensions["services"]
    client = app.test_client()
    chat = Chat(app, user="o-trip")
    arrived = today() - dt.timedelta(days=2)
    reply = chat.run(*REGISTRATION, "2", "1", "湖北省武汉市武昌区", arrived.isoformat(), "2", "2", "5", "1")
    assert "红码" in reply  # a high-risk trip, recorded by mistake
    filed = chat.run("4", "1", "3", "我没有去过武汉，是误填的行程", "跳过", "1")
    number = filed.split("编号 ")[1].split("。")[0]
    reviewer = _token(services, "reviewer")
    assert client.post(f"/api/v1/appeals/{number}/claim", headers=auth(reviewer)).status_code == 200
    detail = client.get(f"/api/v1/appeals/{number}", headers=auth(reviewer)).json
    trips = [f for f in detail["facts"] if f["kind"] == "travel"]
    assert [(f["origin_class"], f["arrival"], f["source"]) for f in trips] == [("high", arrived.isoformat(),
                                                                               "declaration")]
    assert detail["voided_facts"] == []
    # a fact of somebody else, or no fact at all, is refused and changes nothing
    for bad in (["travel:999999"], ["test:1"]):
        r = client.post(f"/api/v1/appeals/{number}/decision", headers=auth(reviewer),
                        json={"outcome": "corrected", "void": bad, "reply": "行程误填，已作废"})
        assert r.status_code == 400, r.json
    r = client.post(f"/api/v1/appeals/{number}/decision", headers=auth(reviewer),
                    json={"outcome": "corrected", "void": [trips[0]["id"]], "reply": "行程误填，已作废"})
    assert r.status_code == 200 and r.json["colour"] == "green" and r.json["voided"] == [trips[0]["id"]], r.json
    burst(services)
    with services.db.session() as s:
        pid = s.scalar(select(Person.id))
        fact = s.get(TravelFact, int(trips[0]["id"].split(":")[1]))
        assert fact.voided_at is not None and fact.void_reason == "行程误填，已作废"
        assert s.get(Code, pid).colour == "green"
        # 30 days later the rules still say green: nothing was covered, so nothing reverts
        later = utcnow() + dt.timedelta(days=30)
        assert services.policy.evaluate(person_facts(s, pid), later).colour == "green"
        assert s.get(Code, pid).reevaluate_at is None
        told = s.scalar(select(Notice.payload).where(Notice.kind == "appeal_decided"))
    from bot.infra.texts import say

    text = say("push.appeal_decided", **told, link=None)
    assert f"{words(arrived)}从高风险地区抵达的行程" in text and "现为绿码" in text
    detail = client.get(f"/api/v1/appeals/{number}", headers=auth(reviewer)).json
    assert detail["facts"] == [] or all(f["kind"] != "travel" for f in detail["facts"])
    [voided] = detail["voided_facts"]
    assert (voided["id"], voided["void_reason"], voided["voided_by"]) == (trips[0]["id"], "行程误填，已作废",
                                                                         "reviewer staff")
    # the console's history shows the voided trip struck through
    web = app.test_client()
    _login(web, reviewer)
    page = web.get(f"/console/appeals/{number}").get_data(as_text=True)
    assert f"<s>{words(arrived)}从高风险地区抵达的行程</s>" in page and "行程误填，已作废" in page


def test_an_unmatched_arrival_origin_waits_for_staff_to_classify_it(env):
    from bot import create_app
    from bot.services import Services

    svc = Services.from_env({**env, **WECHAT_ENV, "REGION_POLICY": "guangxi-hechi"})
    try:
        app = create_app(services=svc)
        client = app.test_client()
        chat = Chat(app, user="o-arrival")
        chat.run(*REGISTRATION, "2", "4", "2", "2", "5", "1")
        arrived = today() - dt.timedelta(days=40)  # up to 60 days back
        done = chat.run("7", "某省某市某区某街道", (arrived - dt.timedelta(days=1)).isoformat(), arrived.isoformat(),
                        "河池市金城江区某小区", "1")
        assert "报备成功" in done and "暂未匹配" in done
        with svc.db.session() as s:
            report = s.scalar(select(ArrivalReport))
            fact = s.get(TravelFact, report.travel_fact_id)
            assert (fact.origin_class, fact.source) == ("unknown", "arrival_report")
            pid, district = report.person_id, report.district or s.get(Person, report.person_id).district
            assert s.get(Code, pid).colour == "green"  # unknown reads as low meanwhile
        community = _token(svc, "community", scope=[district])
        queue = client.get("/api/v1/arrival-reports", headers=auth(community)).json["reports"]
        assert [r["origin_class"] for r in queue] == ["unknown"]
        r = client.post(f"/api/v1/arrival-reports/{report.id}/verify", headers=auth(community), json={"note": "已电话核实"})
        assert r.status_code == 400 and "origin_class" in r.json["errors"]
        r = client.post(f"/api/v1/arrival-reports/{report.id}/verify", headers=auth(community),
                        json={"note": "已电话核实，始发地为高风险地区", "origin_class": "high"})
        assert r.status_code == 200
        with svc.db.session() as s:
            code = s.get(Code, pid)
            # 40 days ago, reported today (day 40): H2, yellow 7 days from the report with a test after it
            assert (code.colour, code.rule) == ("yellow", "H2"), (code.colour, code.rule, code.reason)
            assert s.get(TravelFact, report.travel_fact_id).origin_class == "high"
    finally:
        svc.close()


@pytest.mark.parametrize("policy, words_in_answer", [
    ("zhejiang", "不得乘坐公共交通工具"), ("guangxi-hechi", "限时流动"), ("yunnan", "核酸检测或自我健康监测")])
def test_faq_and_code_page_follow_the_region_policy(env, policy, words_in_answer):
    from bot import create_app
    from bot.services import Services
    from tests.support.people import code_path

    svc = Services.from_env({**env, **WECHAT_ENV, "REGION_POLICY": policy})
    try:
        app = create_app(services=svc)
        chat = Chat(app, user=f"o-{policy}")
        assert words_in_answer in chat.run("0", "4"), policy  # 黄码可以出门吗？
        chat.run("菜单")
        chat.run(*REGISTRATION, "2", "4", "1", "2", "5", "1")  # symptoms: yellow everywhere
        with svc.db.session() as s:
            pid = s.scalar(select(Code.person_id))
        page = app.test_client().get(code_path(svc, pid))
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and svc.policy.wording["may"]["yellow"] in html
        assert svc.policy.wording["to_green"]["yellow"] in html
    finally:
        svc.close()


def test_every_faq_answer_fits_in_every_policy():
    from bot.web.channels import PASSIVE_TEXT_BYTES
    from bot.infra.texts import say
    from bot.chat.faq import entries

    for e in entries():
        for a in [e["a"], *e.get("by_policy", {}).values()]:
            assert len(say("faq.answer", q=e["q"], a=a).encode()) < PASSIVE_TEXT_BYTES, e["q"]
