"""Issue 18, 线下窗口: a counter clerk registers a person without a phone (document checked, consent
recorded), declares for them through the chat's own declare flow and prints their paper code;
the person's chat accounts hear of it. A clerk acts only for people whose document they were
shown."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.domain.models import AuditLog, ChannelIdentity, Code, Declaration, Notice, PaperCode, Person
from tests.support.chat import CLEAN, Chat, id_card
from tests.support.people import person_with_code
from tests.support.staff import csrf, sign_in, staff_token
from tests.support.workers import burst

NUMBER = id_card("33010619400101002")   # an elderly woman without a phone
OTHER = id_card("11010119500101123")


def serve(client, **form):
    body = {"name": "李奶奶", "id_type": "id_card", "id_number": NUMBER, "phone": "", "documents_checked": "1",
            "consent": "1", "csrf": csrf(client)}
    body.update(form)
    return client.post("/console/counter", data=body)


def declare(client, pid, *answers):
    """Start the declare flow and answer it; the page of the last answer."""
    page = client.post(f"/console/counter/people/{pid}/declare", data={"start": "1", "nonce": "n0",
                                                                      "csrf": csrf(client)})
    for i, text in enumerate(answers, 1):
        page = client.post(f"/console/counter/people/{pid}/declare",
                           data={"answer": text, "nonce": f"n{i}", "csrf": csrf(client)})
    return page


def test_a_clerk_registers_declares_and_prints_for_someone_without_a_phone(client, services):
    sign_in(client, staff_token(services, "counter", name="窗口甲"))
    refused = serve(client, consent="")
    assert refused.status_code == 400 and "须勾选此项" in refused.get_data(as_text=True)
    bad = serve(client, id_number=NUMBER[:-1] + ("0" if NUMBER[-1] != "0" else "1"))
    assert bad.status_code == 400 and 'id="error-id_number"' in bad.get_data(as_text=True)
    with services.db.session() as s:
        assert s.scalar(select(Person)) is None  # nothing stored from a refused form
    done = serve(client)
    assert done.status_code == 302
    pid = int(done.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(f"/console/counter/people/{pid}").get_data(as_text=True)
    assert "李**" in page and "尚未申报" in page and 'id="no-accounts"' in page and "李奶奶" not in page
    # the chat's questions, answered by the clerk: no trip abroad, no travel, no symptoms, no case, no measure
    first = client.post(f"/console/counter/people/{pid}/declare",
                        data={"start": "1", "nonce": "n0", "csrf": csrf(client)}).get_data(as_text=True)
    assert "境外" in first  # the chat's first health question (registered: no registration questions)
    wrong = client.post(f"/console/counter/people/{pid}/declare", data={"answer": "7", "nonce": "w", "csrf": csrf(client)})
    assert "请回复序号 1 到 2 中的一个数字" in wrong.get_data(as_text=True)  # the chat's own check and words
    stays = client.post(f"/console/counter/people/{pid}/declare", data={"answer": "EN", "nonce": "en", "csrf": csrf(client)})
    assert "境外" in stays.get_data(as_text=True) and "abroad" not in stays.get_data(as_text=True)  # the console: Chinese
    page = declare(client, pid, *CLEAN, "1").get_data(as_text=True)
    assert "申报成功" in page and "绿码" in page and "本人没有绑定的聊天账号" in page
    assert services.settings.public_base_url not in page and "亮码：" not in page  # the paper code instead
    with services.db.session() as s:
        decl = s.scalar(select(Declaration))
        code = s.get(Code, pid)
        audit = s.scalars(select(AuditLog).where(AuditLog.subject_person_id == pid).order_by(AuditLog.id)).all()
    assert (decl.channel, decl.staff_id is not None, decl.submitted_by_id) == ("counter", True, pid)
    assert code.colour == "green"
    actions = [(a.action, a.actor_kind) for a in audit]
    assert ("person.served_in_person", "staff") in actions and ("declaration.submitted", "staff") in actions
    served = next(a for a in audit if a.action == "person.served_in_person")
    assert served.detail["consent"] is True and served.detail["documents"] == "checked"
    assert served.detail["outcome"] == "registered" and NUMBER not in str(served.detail)
    # print: a paper code for this person, its PDF link on the page
    printed = client.post(f"/console/counter/people/{pid}/paper", data={"csrf": csrf(client)})
    assert printed.status_code == 302
    page = client.get(f"/console/counter/people/{pid}").get_data(as_text=True)
    link = re.search(r'href="([^"]+\.pdf)"', page).group(1)
    pdf = client.get(link[len(services.settings.public_base_url):])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    with services.db.session() as s:
        assert s.scalar(select(PaperCode.person_id)) == pid
        assert s.scalar(select(AuditLog.actor_kind).where(AuditLog.action == "paper_code.issued")) == "staff"


def test_a_form_sent_twice_declares_once(client, services):
    sign_in(client, staff_token(services, "counter"))
    pid = int(serve(client).headers["Location"].split("/")[-1])
    declare(client, pid, *CLEAN)
    body = {"answer": "1", "nonce": "same", "csrf": csrf(client)}
    first = client.post(f"/console/counter/people/{pid}/declare", data=body).get_data(as_text=True)
    again = client.post(f"/console/counter/people/{pid}/declare", data=body).get_data(as_text=True)
    assert "申报成功" in first and "申报成功" in again
    with services.db.session() as s:
        assert len(s.scalars(select(Declaration)).all()) == 1


def test_the_persons_chat_accounts_hear_of_a_counter_declaration(make_app):
    app, services = make_app()
    client = app.test_client()
    Chat(app, user="grandson-phone").run("1", "张大爷", "1", OTHER, "13900001111", *CLEAN, "1")  # in chat
    sign_in(client, staff_token(services, "counter"))
    found = serve(client, name="张大爷", id_number=OTHER)
    pid = int(found.headers["Location"].split("/")[-1])
    page = client.get(f"/console/counter/people/{pid}").get_data(as_text=True)
    assert "微信公众号" in page and "关注中" in page
    assert "已通知本人的1个聊天账号" in declare(client, pid, *CLEAN, "1").get_data(as_text=True)
    with services.db.session() as s:
        kinds = s.scalars(select(Notice.kind).join(ChannelIdentity, ChannelIdentity.id == Notice.identity_id)
                          .where(ChannelIdentity.external_id == "grandson-phone")).all()
        phone = s.get(Person, pid).phone
    assert "counter_declared" in kinds
    assert phone == "13900001111"  # finding a record keeps the phone on file
    burst(services)


def test_a_wrong_name_for_a_registered_number_opens_nothing(client, services):
    person_with_code(services, "yellow", name="王大爷", number=OTHER)
    sign_in(client, staff_token(services, "counter"))
    r = serve(client, name="王小二", id_number=OTHER)
    assert r.status_code == 400 and "姓名与该证件号码的登记记录不一致" in r.get_data(as_text=True)
    assert "黄码" not in r.get_data(as_text=True)
    with services.db.session() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "person.served_in_person"))
    assert row.detail["outcome"] == "name_mismatch"


def test_a_clerk_cannot_act_for_someone_by_changing_the_id_in_the_url(app, services):
    """The attack: a clerk served one person, then edits the URL to another person's id to see
    their code, declare for them or print their paper code."""
    victim = person_with_code(services, "red", name="赵六", number=OTHER)
    clerk = app.test_client()
    sign_in(clerk, staff_token(services, "counter"))
    mine = int(serve(clerk).headers["Location"].split("/")[-1])
    assert clerk.get(f"/console/counter/people/{mine}").status_code == 200
    for path, method in ((f"/console/counter/people/{victim}", "get"), (f"/console/counter/people/{victim}/declare", "get"),
                         (f"/console/counter/people/{victim}/declare", "post"),
                         (f"/console/counter/people/{victim}/paper", "post")):
        r = getattr(clerk, method)(path, data={"csrf": csrf(clerk), "start": "1", "nonce": "x"})
        assert r.status_code == 404, path
    with services.db.session() as s:
        assert s.scalar(select(PaperCode)) is None and s.scalar(select(Declaration)) is None
    # another clerk's session holds no grant for the person the first one served
    other = app.test_client()
    sign_in(other, staff_token(services, "counter", name="窗口乙"))
    assert other.get(f"/console/counter/people/{mine}").status_code == 404


def test_who_may_open_the_counter_pages(app, services):
    anonymous = app.test_client()
    assert anonymous.get("/console/counter").status_code == 302  # to the sign-in
    for role, status in (("reviewer", 403), ("community", 403), ("hotline", 403), ("scanner", 403), ("counter", 200)):
        c = app.test_client()
        sign_in(c, staff_token(services, role, ["330106"] if role == "community" else None, name=f"{role}丙"))
        assert c.get("/console/counter").status_code == status, role
    for role, status in (("scanner", 200), ("counter", 200), ("reviewer", 403), ("hotline", 403)):
        c = app.test_client()
        sign_in(c, staff_token(services, role, name=f"{role}丁"))
        assert c.get("/console/lookups").status_code == status, role
    for role, status in (("hotline", 200), ("counter", 403), ("reviewer", 403), ("admin", 403)):
        c = app.test_client()
        sign_in(c, staff_token(services, role, name=f"{role}戊"))
        assert c.get("/console/hotline").status_code == status, role
    assert anonymous.get("/console/hotline").status_code == 302
    assert anonymous.post("/console/counter/people/1/paper").status_code == 302


def test_a_clerk_registers_a_passport_holder_with_the_issuing_country(client, services):
    """国际版 at the counter: a passport needs its issuing country, which also picks the pattern its
    number is checked by; the person is stored with it and masked in the Latin way."""
    sign_in(client, staff_token(services, "counter", name="窗口乙"))
    passport = {"name": "Maria Garcia-Lopez", "id_type": "passport", "id_number": "EA1234567"}
    missing = serve(client, **passport)
    assert missing.status_code == 400 and 'id="error-nationality"' in missing.get_data(as_text=True)
    wrong = serve(client, **dict(passport, id_number="123456789"), nationality="CHN")  # not a Chinese passport
    assert wrong.status_code == 400 and 'id="error-id_number"' in wrong.get_data(as_text=True)
    done = serve(client, **dict(passport, id_number="X1234567"), nationality="西班牙")
    assert done.status_code == 302
    pid = int(done.headers["Location"].rstrip("/").split("/")[-1])
    with services.db.session() as s:
        person = s.get(Person, pid)
        assert (person.name, person.nationality, person.id_type) == ("MARIA GARCIA-LOPEZ", "ESP", "passport")
    page = client.get(f"/console/counter/people/{pid}").get_data(as_text=True)
    assert "M*** G***" in page and "GARCIA" not in page
