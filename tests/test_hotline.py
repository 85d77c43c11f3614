"""Issue 18, 12345: an operator files an appeal for a caller after checking the name, the ID number
and the last 4 digits of the phone on file; the appeal shows its source; the decision reaches
the caller by SMS at the callback number (sealed), once."""
from __future__ import annotations

import json

from sqlalchemy import select, text

from bot.domain.models import Appeal, ArrivalReport, AuditLog, Outbox
from bot.infra.db import utcnow
from tests.support.chat import id_card
from tests.support.people import person_with_code
from tests.support.staff import auth, csrf, sign_in, staff_token
from tests.support.workers import burst

NUMBER = id_card("11010119500101123")
CALLER = {"name": "王大爷", "id_type": "id_card", "id_number": NUMBER, "phone_tail": "5678",
          "callback_phone": "13700001234", "reason_code": 2, "description": "已做核酸检测为阴性，健康码仍为黄码"}


def dev_sms(services) -> list[dict]:
    return [json.loads(x) for x in services.redis.client().lrange("dev:sms", 0, -1)]


def test_a_hotline_appeal_is_decided_and_the_caller_texted_once(client, services):
    pid = person_with_code(services, "yellow", name="王大爷", number=NUMBER)   # phone on file ends 5678
    operator = auth(staff_token(services, "hotline", name="话务员甲"))
    filed = client.post("/api/v1/hotline-appeals", json=CALLER, headers=operator)
    assert filed.status_code == 200 and filed.json["source"] == "hotline"
    number = filed.json["number"]
    with services.db.session() as s:
        raw = s.execute(text("SELECT callback_phone FROM appeals")).scalar()
        appeal = s.scalar(select(Appeal))
        assert (appeal.person_id, appeal.source, appeal.callback_phone) == (pid, "hotline", "13700001234")
    assert "13700001234" not in raw  # sealed at rest
    reviewer = auth(staff_token(services, "reviewer", name="审核乙"))
    queue = client.get("/api/v1/appeals", headers=reviewer).json["appeals"]
    assert [(a["number"], a["source"]) for a in queue] == [(number, "hotline")]
    detail = client.get(f"/api/v1/appeals/{number}", headers=reviewer)
    assert client.post(f"/api/v1/appeals/{number}/claim", headers=reviewer).status_code == 200
    decided = client.post(f"/api/v1/appeals/{number}/decision", headers=reviewer,
                          json={"outcome": "upheld", "reply": "检测结果尚未回传，请稍后再查"})
    assert detail.status_code == 200 and decided.status_code == 200, decided.json
    burst(services)
    texts = [m for m in dev_sms(services) if m["phone"] == "13700001234"]
    assert len(texts) == 1 and number in texts[0]["text"] and "维持原健康码" in texts[0]["text"]
    with services.db.session() as s:
        assert s.scalar(select(Appeal.callback_sent_at)) is not None
        row = s.scalar(select(Outbox).where(Outbox.kind == "appeal.sms"))
        row.status, row.attempts = "pending", 0   # the effect run again (a crash after the send)
    from bot.infra.outbox import sweep

    sweep(services)
    burst(services)
    assert len([m for m in dev_sms(services) if m["phone"] == "13700001234"]) == 1


def test_a_caller_who_does_not_match_is_refused_alike(client, services):
    person_with_code(services, "yellow", name="王大爷", number=NUMBER)
    operator = auth(staff_token(services, "hotline"))
    answers = []
    for change in ({"phone_tail": "0000"}, {"name": "王小二"}, {"id_number": id_card("11010119500101131")}):
        r = client.post("/api/v1/hotline-appeals", json={**CALLER, **change}, headers=operator)
        answers.append((r.status_code, r.json.get("errors")))
    assert answers == [(400, {"identity": ["mismatch"]})] * 3  # the same answer: nothing learned
    with services.db.session() as s:
        assert s.scalar(select(Appeal)) is None
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "appeal.caller_unverified")).all()
    assert len(rows) == 3 and all(NUMBER not in str(r.detail) for r in rows)


def test_bad_bodies_are_named(client, services):
    operator = auth(staff_token(services, "hotline"))
    for change, field in (({"phone_tail": "56a8"}, "phone_tail"), ({"callback_phone": "12345"}, "callback_phone"),
                          ({"reason_code": 9}, "reason_code"), ({"description": "短"}, "description"),
                          ({"id_number": NUMBER[:-1] + "X"}, "id_number"), ({"name": "王2"}, "name")):
        r = client.post("/api/v1/hotline-appeals", json={**CALLER, **change}, headers=operator)
        assert r.status_code == 400 and field in r.json["errors"], (change, r.json)
    counter = auth(staff_token(services, "counter"))
    for change, field in (({"consent": False}, "consent"), ({"documents_checked": False}, "documents_checked"),
                          ({"phone": "123"}, "phone")):
        body = {"name": "李奶奶", "id_number": NUMBER, "documents_checked": True, "consent": True, **change}
        r = client.post("/api/v1/counter/people", json=body, headers=counter)
        assert r.status_code == 400 and field in r.json["errors"], (change, r.json)


def test_the_role_matrix_of_the_new_routes(client, services):
    """401 without a token, 403 for every other role, and what each role may do."""
    person_with_code(services, "yellow", name="王大爷", number=NUMBER)
    roles = ("admin", "reviewer", "community", "lab", "scanner", "counter", "hotline")
    tokens = {r: auth(staff_token(services, r, ["110101"] if r == "community" else None, name=f"{r}甲")) for r in roles}
    counter_body = {"name": "李奶奶", "id_number": id_card("33010619400101002"), "documents_checked": True,
                    "consent": True}
    routes = (("/api/v1/hotline-appeals", CALLER, {"hotline": 200}),
              ("/api/v1/counter/people", counter_body, {"counter": 200}),
              ("/api/v1/lookups", {"id_number": NUMBER, "venue": "门口"}, {"scanner": 200, "counter": 200}))
    for path, body, allowed in routes:
        assert client.post(path, json=body).status_code == 401, path
        for role in roles:
            status = client.post(path, json=body, headers=tokens[role]).status_code
            assert status == allowed.get(role, 403), (path, role, status)
    again = client.post("/api/v1/counter/people", json=counter_body, headers=tokens["counter"])
    assert again.json["outcome"] == "found"  # serving a person twice finds them
    # 首问负责制 hand-over: community staff of the report's district only
    with services.db.session() as s:
        pid = s.scalar(select(Appeal.person_id))
        report = ArrivalReport(person_id=pid, origin_address="广西南宁市青秀区某路1号", left_on=utcnow().date(),
                               arrival_on=utcnow().date(), destination_address="北京市东城区某街道2号",
                               district="110101", phone_confirmed=True)
        s.add(report)
        s.flush()
        rid = report.id
    path = f"/api/v1/arrival-reports/{rid}/handover"
    body = {"district": "110102", "receiver_name": "西城乙", "receiver_contact": "010-88888888", "note": "搬家"}
    assert client.post(path, json=body).status_code == 401
    for role in roles:
        if role != "community":
            assert client.post(path, json=body, headers=tokens[role]).status_code == 403, role
    elsewhere = auth(staff_token(services, "community", ["330106"], name="西湖丙"))
    assert client.get(f"/api/v1/arrival-reports/{rid}", headers=elsewhere).status_code == 403
    assert client.post(path, json=body, headers=elsewhere).status_code == 403
    assert client.get(f"/api/v1/arrival-reports/{rid}", headers=tokens["community"]).status_code == 200
    assert client.post(path, json=body, headers=tokens["community"]).status_code == 200


def test_the_operator_files_in_the_console_and_the_reviewer_sees_the_source(app, services):
    person_with_code(services, "yellow", name="王大爷", number=NUMBER)
    op = app.test_client()
    sign_in(op, staff_token(services, "hotline", name="话务员甲"))
    assert op.get("/console/").headers["Location"].endswith("/console/hotline")
    form = {**CALLER, "reason_code": "2", "csrf": csrf(op)}
    wrong = op.post("/console/hotline", data={**form, "phone_tail": "1111"})
    assert wrong.status_code == 400 and 'id="error-identity"' in wrong.get_data(as_text=True)
    assert op.post("/console/hotline", data=form).status_code == 302
    page = op.get("/console/hotline").get_data(as_text=True)
    with services.db.session() as s:
        number = s.scalar(select(Appeal.number))
    assert f"已受理，申诉编号 {number}" in page and number in page.split('id="filed"')[1]
    again = op.post("/console/hotline", data=form)
    assert again.status_code == 400 and number in again.get_data(as_text=True)  # one open appeal per person
    reviewer = app.test_client()
    sign_in(reviewer, staff_token(services, "reviewer", name="审核乙"))
    assert "12345热线" in reviewer.get("/console/appeals").get_data(as_text=True)
    detail = reviewer.get(f"/console/appeals/{number}").get_data(as_text=True)
    assert "来源：12345热线，话务员话务员甲受理" in detail and "137****1234" in detail and "13700001234" not in detail


def test_guessing_the_phone_tail_locks_the_number(client, services):
    """The attack: an operator (or a stolen operator token) tries tails 0000, 0001, … for a known
    name and ID number. Five failures in an hour lock that number for caller checks, the right
    tail included; a number nobody has locks alike, so the lock tells nothing."""
    person_with_code(services, "yellow", name="王大爷", number=NUMBER)     # phone on file ends 5678
    guesser = auth(staff_token(services, "hotline", name="甲"))
    tries = [client.post("/api/v1/hotline-appeals", json={**CALLER, "phone_tail": f"{n:04d}"},
                         headers=guesser).json["errors"] for n in range(5)]
    assert tries == [{"identity": ["mismatch"]}] * 5
    other = auth(staff_token(services, "hotline", name="乙"))       # another operator, the right tail
    right = client.post("/api/v1/hotline-appeals", json=CALLER, headers=other)
    assert right.status_code == 400 and right.json["errors"] == {"identity": ["locked"]}
    nobody = {**CALLER, "id_number": id_card("11010119500101131")}
    answers = [client.post("/api/v1/hotline-appeals", json={**nobody, "phone_tail": f"{n:04d}"},
                           headers=other).json["errors"] for n in range(6)]
    assert answers == [{"identity": ["mismatch"]}] * 5 + [{"identity": ["locked"]}]
    with services.db.session() as s:
        assert s.scalar(select(Appeal)) is None
    # binding a chat account to that number is not locked by it: purposes are counted apart
    from bot.chat import binding
    from bot.domain.people import id_hash

    assert not binding.locked(services, id_hash(services.vault, "id_card", NUMBER))
