"""The staff API: every role boundary, district scopes, bad bodies, the appeal rules, lab results
re-evaluating and pushing, and an audit row for each read of personal data."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from bot.domain import appeals as appeal_rules
from bot.web.api import ROUTES
from bot.infra.db import utcnow
from bot.domain.models import ROLES, Appeal, ArrivalReport, AuditLog, Code, Person, RiskArea, TravelFact
from bot.domain.staff import create_staff
from tests.support.images import picture
from tests.support.chat import id_card
from tests.support.people import person_with_code

NUMBER = id_card("33010619900101123")


def token(services, role, scope=None, name=None):
    with services.db.session() as s:
        return create_staff(s, role, name or f"{role} staff", scope=scope or (["3301"] if role == "community" else []))[1]


def auth(t):
    return {"Authorization": f"Bearer {t}"}


@pytest.fixture
def tokens(services):
    return {role: token(services, role) for role in ROLES}


def _path(rule: str) -> str:
    return "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "1" if "int" in m.group(0) else "SS1", rule)


def test_every_route_refuses_every_other_role_and_no_token(client, tokens):
    checked = 0
    for r in ROUTES:
        for method in r["methods"]:
            path = _path(r["rule"])
            assert client.open(path, method=method, json={}).status_code == 401, path
            for role, t in tokens.items():
                status = client.open(path, method=method, json={}, headers=auth(t)).status_code
                if role in r["roles"]:
                    assert status != 403 or r["rule"].startswith("/people/"), (path, method, role)
                else:
                    assert status == 403, (path, method, role, status)
                checked += 1
    assert checked >= 5 * 14


def test_openapi_document_lists_every_route_with_its_schemas(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for r in ROUTES:
        path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r["rule"])
        for method in r["methods"]:
            op = paths[path][method.lower()]
            assert op["security"] == [{"bearer": []}] and "403" in op["responses"]
            if r["body"] is not None:
                assert "400" in op["responses"] and "requestBody" in op
    assert "ScanIn" in str(doc["components"]["schemas"]) or "Scan" in str(doc["components"]["schemas"])


def _person(services, district="330106", colour="yellow", number=NUMBER, name="王五"):
    pid = person_with_code(services, colour, number=number, name=name)
    with services.db.session() as s:
        s.get(Person, pid).district = district
    return pid


def test_community_acts_only_in_its_districts(client, services):
    inside = _person(services, "330106")
    outside = _person(services, "450100", number=id_card("45010019800101123"))
    t = auth(token(services, "community", ["330106"]))
    body = {"action": "start", "kind": "home_health_observation", "end": (utcnow().date() + dt.timedelta(days=7)).isoformat()}
    assert client.post(f"/api/v1/people/{inside}/measures", json=body, headers=t).status_code == 200
    assert client.post(f"/api/v1/people/{outside}/measures", json=body, headers=t).status_code == 403
    assert client.post("/api/v1/people/999999/measures", json=body, headers=t).status_code == 404


def test_an_out_of_district_look_up_answers_like_a_miss(client, services):
    """Issue 15, finding 12: community staff could tell whether an ID number is registered
    anywhere (403 outside their districts, 404 for nobody). Now both answer alike; the audit
    log tells them apart."""
    _person(services, "450100", number=id_card("45010019800101123"))
    t = auth(token(services, "community", ["330106"]))
    outside = client.get("/api/v1/people", query_string={"id_number": id_card("45010019800101123")}, headers=t)
    nobody = client.get("/api/v1/people", query_string={"id_number": id_card("45010019800101131")}, headers=t)
    assert outside.status_code == nobody.status_code == 404
    assert outside.get_json() == nobody.get_json()
    with services.db.session() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "person.lookup").order_by(AuditLog.id)).all()
    assert [(r.detail.get("found"), r.detail.get("out_of_scope")) for r in rows] == [(True, True), (False, None)]


BAD_BODIES = [
        ("post", "/api/v1/scans", "scanner", {"token": 5}, {"token", "venue"}),
        ("post", "/api/v1/people/{pid}/measures", "community", {"action": "grow", "kind": "x"}, {"action", "kind"}),
        ("post", "/api/v1/people/{pid}/measures", "community", {"action": "extend", "kind": "home_isolation"}, {"end"}),
        ("post", "/api/v1/people/{pid}/designation", "admin", {"colour": "blue"}, {"colour"}),
        ("post", "/api/v1/people/{pid}/designation", "admin", {"reason": "核查"}, {"colour"}),
        ("post", "/api/v1/appeals/SS1/decision", "reviewer", {"outcome": "corrected", "reply": "好"}, {"reply"}),
        ("post", "/api/v1/appeals/SS1/decision", "reviewer", {"outcome": "corrected", "reply": "已核实"}, {"void"}),
        ("post", "/api/v1/appeals/SS1/decision", "reviewer", {"outcome": "corrected", "reply": "已核实",
                                                              "void": ["travel:1"], "designation": {"colour": "green"}},
         {"designation"}),
        ("post", "/api/v1/appeals/SS1/decision", "reviewer", {"outcome": "corrected", "reply": "已核实",
                                                              "void": ["trip 1"]}, {"void"}),
        ("post", "/api/v1/appeals/SS1/decision", "reviewer", {"outcome": "corrected", "reply": "已核实",
                                                              "designation": {"colour": "green",
                                                                              "until": "2020-01-01T00:00:00"}},
         {"designation"}),
        ("post", "/api/v1/alerts/1/resolve", "reviewer", {}, {"case_status"}),
        ("post", "/api/v1/alerts/1/resolve", "reviewer", {"void": True}, {"reason"}),
        ("post", "/api/v1/alerts/1/resolve", "reviewer", {"void": True, "case_status": "confirmed", "reason": "误报"},
         {"case_status"}),
        ("post", "/api/v1/arrival-reports/1/verify", "community", {"origin_class": "moon"}, {"origin_class"}),
        ("put", "/api/v1/risk-areas", "admin", [{"code": "12", "name": "", "level": "extreme"}],
         {"areas"}),
        ("get", "/api/v1/appeals?status=lost", "reviewer", None, {"status"}),
        ("get", "/api/v1/audit?limit=0", "admin", None, {"limit"}),
        ("get", "/api/v1/people", "reviewer", None, {"id_number"}),
        ("post", "/api/v1/account-bindings", "community", {"code": "AB"}, {"code", "id_number"}),
        ("put", "/api/v1/people/{pid}/phone", "reviewer", {"phone": "12345"}, {"phone"}),
        ("post", "/api/v1/lookups", "counter", {"id_type": "visa"}, {"id_type", "id_number", "venue"}),
        ("post", "/api/v1/arrival-reports/1/handover", "community", {"district": "12"},
         {"district", "receiver_name", "receiver_contact"}),
]


@pytest.mark.parametrize("method, path, role, body, fields_", BAD_BODIES, ids=lambda v: v if isinstance(v, str) else None)
def test_a_bad_body_names_its_fields(client, services, tokens, method, path, role, body, fields_):
    path = path.format(pid=_person(services))
    kw = {"json": body} if body is not None else {}
    r = client.open(path, method=method.upper(), headers=auth(tokens[role]), **kw)
    assert r.status_code == 400, (path, r.status_code, r.json)
    assert fields_ <= set(r.json["errors"]), (path, r.json)


def test_unreadable_bodies_are_named(client, tokens):
    r = client.post("/api/v1/scans", data="{not json", headers={**auth(tokens["scanner"]),
                                                                "Content-Type": "application/json"})
    assert r.status_code == 400 and "_body" in r.json["errors"]
    # the risk-area error names the row and the field
    r = client.put("/api/v1/risk-areas", json=[{"code": "330106", "name": "西湖区", "level": "high",
                                                 "since": "2026-11-20"}, {"code": "1"}], headers=auth(tokens["admin"]))
    assert set(r.json["errors"]["areas"]["1"]) == {"code", "name", "level", "since"}


def _appeal(services, pid, filer=None):
    with services.db.session() as s:
        a = appeal_rules.file_appeal(s, services.vault, person_id=pid, filed_by_id=filer or pid, reason_code=2,
                                     description="我已做核酸检测，结果阴性，联系电话13812345678",
                                     images=[("m1", picture("PNG"), "image/png")])
        return a.number


def test_appeal_claim_decide_rules(client, services):
    pid = _person(services)
    number = _appeal(services, pid)
    with services.db.session() as s:  # one open appeal per person
        with pytest.raises(appeal_rules.Conflict) as refused:
            appeal_rules.file_appeal(s, services.vault, person_id=pid, filed_by_id=pid, reason_code=5,
                                     description="再次申诉内容")
    assert refused.value.kind == "conflict" and str(refused.value) == number
    first, second = auth(token(services, "reviewer", name="甲")), auth(token(services, "reviewer", name="乙"))
    queue = client.get("/api/v1/appeals", headers=first).json["appeals"]
    assert [a["number"] for a in queue] == [number] and queue[0]["subject_masked"] == "王*"
    assert "13812345678" not in str(queue)
    # deciding before claiming: 409; claim; a second reviewer's claim: 409; their decision: 403
    body = {"outcome": "corrected", "colour": "green", "reply": "经核实核酸阴性，已更正为绿码"}
    assert client.post(f"/api/v1/appeals/{number}/decision", json=body, headers=first).status_code == 409
    assert client.post(f"/api/v1/appeals/{number}/claim", headers=first).json["newly_claimed"] is True
    assert client.post(f"/api/v1/appeals/{number}/claim", headers=first).status_code == 200  # idempotent for the owner
    assert client.post(f"/api/v1/appeals/{number}/claim", headers=second).status_code == 409
    assert client.post(f"/api/v1/appeals/{number}/decision", json=body, headers=second).status_code == 403
    detail = client.get(f"/api/v1/appeals/{number}", headers=first).json
    assert detail["description"].startswith("我已做核酸检测") and len(detail["evidence"]) == 1
    img = client.get(f"/api/v1/appeals/{number}/evidence/{detail['evidence'][0]['id']}", headers=first)
    assert img.data == picture("PNG") and img.mimetype == "image/png"
    done = client.post(f"/api/v1/appeals/{number}/decision", json=body, headers=first)
    assert done.status_code == 200 and done.json["colour"] == "green"
    assert client.post(f"/api/v1/appeals/{number}/decision", json=body, headers=first).status_code == 409
    with services.db.session() as s:
        assert s.get(Code, pid).colour == "green"
        assert s.scalar(select(Appeal.status).where(Appeal.number == number)) == "decided"
        actions = [a for (a,) in s.execute(select(AuditLog.action).where(AuditLog.subject_person_id == pid))]
    assert {"appeal.filed", "appeal.claimed", "appeal.read", "appeal.evidence_read", "appeal.decided"} <= set(actions)
    # overdue appeals are flagged
    other = _person(services, number=id_card("33010619800101123"), name="赵六")
    late = _appeal(services, other)
    with services.db.session() as s:
        s.execute(Appeal.__table__.update().where(Appeal.number == late).values(deadline=utcnow() - dt.timedelta(hours=1)))
    overdue = client.get("/api/v1/appeals?status=overdue", headers=first).json["appeals"]
    assert [a["number"] for a in overdue] == [late] and overdue[0]["overdue"] is True


def test_each_read_of_personal_data_writes_an_audit_row(client, services):
    pid = _person(services)
    t = auth(token(services, "reviewer"))

    def rows():
        with services.db.session() as s:
            return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.subject_person_id == pid))

    before = rows()
    found = client.get("/api/v1/people", query_string={"id_number": NUMBER}, headers=t)
    assert found.status_code == 200 and found.json["id_number"] == NUMBER and found.json["name"] == "王五"
    assert rows() == before + 1
    number = _appeal(services, pid)
    n = rows()
    client.get(f"/api/v1/appeals/{number}", headers=t)
    assert rows() == n + 1
    # a look-up that finds nobody is audited too (who looked for what, masked)
    client.get("/api/v1/people", query_string={"id_number": id_card("11010119990101123")}, headers=t)
    with services.db.session() as s:
        miss = s.scalars(select(AuditLog).where(AuditLog.action == "person.lookup").order_by(AuditLog.id.desc())).first()
    assert miss.detail["found"] is False and "*" in miss.detail["id_masked"]


def test_risk_areas_csv_upload_preview_and_replace(client, services, tokens):
    pid = _person(services, colour="green")
    with services.db.session() as s:
        s.add(TravelFact(person_id=pid, origin_code="330106", origin_class="low", arrival=utcnow().date(),
                         source="declaration"))
    csv_text = "code,name,level,since\n330106,杭州市西湖区,high,2026-11-20\n450100,南宁市,low,2026-11-01\n"
    preview = client.put("/api/v1/risk-areas?dry_run=1", data=csv_text, content_type="text/csv",
                         headers=auth(tokens["admin"]))
    assert preview.status_code == 200 and preview.json["people_affected"] == 1 and preview.json["dry_run"]
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RiskArea)) == 0  # a preview changes nothing
    done = client.put("/api/v1/risk-areas", data=csv_text, content_type="text/csv", headers=auth(tokens["admin"]))
    assert done.status_code == 200 and done.json["run_id"]
    listed = client.get("/api/v1/risk-areas", headers=auth(tokens["admin"])).json["areas"]
    assert [a["code"] for a in listed] == ["330106", "450100"]
    bad = client.put("/api/v1/risk-areas", data="code,name\n1,x\n", content_type="text/csv",
                     headers=auth(tokens["admin"]))
    assert bad.status_code == 400 and "_header" in bad.json["errors"]


def test_a_lab_result_turns_yellow_green_and_the_push_reaches_the_stub(env, client, services):
    import json
    import urllib.request

    from bot import create_app
    from bot.devtools.platform_stub import PlatformStub
    from bot.services import Services
    from tests.support.chat import REGISTRATION, WECHAT_ENV, Chat
    from tests.support.workers import burst
    from workers import notices, runtime

    with PlatformStub() as stub:
        svc = Services.from_env({**env, **WECHAT_ENV, "WECHAT_API_BASE": stub.base_url})
        try:
            runtime.use(svc)
            app = create_app(services=svc)
            chat = Chat(app, user="o-lab")
            declared = chat.run(*REGISTRATION[:-1], REGISTRATION[-1], "2", "4", "1", "2", "5", "1")  # symptoms: yellow
            assert "黄码" in declared
            lab = auth(token(svc, "lab"))
            body = [{"id_number": REGISTRATION[3], "sampled_at": utcnow().isoformat(),
                     "result": "negative", "lab": "市一院"},
                    {"id_number": "123", "sampled_at": "yesterday", "result": "maybe", "lab": ""}]
            r = app.test_client().post("/api/v1/test-results", json=body, headers=lab)
            assert r.status_code == 200, r.json
            assert (r.json["stored"], r.json["colour_changes"]) == (1, 1)
            assert r.json["errors"][0]["row"] == 1 and {"id_number", "sampled_at", "result", "lab"} <= set(
                r.json["errors"][0]["errors"])
            again = app.test_client().post("/api/v1/test-results", json=body[:1], headers=lab)
            assert again.json["duplicates"] == 1 and again.json["stored"] == 0
            burst(svc)        # the colour-change fan-out
            notices.drain()   # the push
            sent = json.loads(urllib.request.urlopen(stub.base_url + "/_stub/messages?touser=o-lab").read())["messages"]
            texts = [m["text"]["content"] for m in sent if m.get("msgtype") == "text"]
            assert any(t.startswith("好消息") and "绿码" in t for t in texts), texts
        finally:
            svc.close()


def test_arrival_reports_queue_first_officer_owns(client, services):
    pid = _person(services)
    with services.db.session() as s:
        s.add(ArrivalReport(person_id=pid, origin_address="广西南宁市青秀区某路1号", left_on=utcnow().date(),
                            arrival_on=utcnow().date(), destination_address="杭州市西湖区某街道2号",
                            district="330106", phone_confirmed=True))
        s.add(ArrivalReport(person_id=pid, origin_address="x", left_on=utcnow().date(), arrival_on=utcnow().date(),
                            destination_address="南宁", district="450100"))
    a = auth(token(services, "community", ["330106"], name="甲"))
    b = auth(token(services, "community", ["3301"], name="乙"))
    listed = client.get("/api/v1/arrival-reports", headers=a).json["reports"]
    assert len(listed) == 1 and "某路1号" not in str(listed)  # masked, and only in the district
    rid = listed[0]["id"]
    opened = client.get(f"/api/v1/arrival-reports/{rid}", headers=a).json
    assert opened["mine"] and opened["origin_address"].endswith("某路1号")
    with services.db.session() as s:  # reading the full report is audited
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "arrival_report.read", AuditLog.subject_person_id == pid)) == 1
    assert client.post(f"/api/v1/arrival-reports/{rid}/verify", json={}, headers=b).status_code == 403
    assert client.post(f"/api/v1/arrival-reports/{rid}/verify", json={"note": "已电话核实"}, headers=a).status_code == 200
    assert client.post(f"/api/v1/arrival-reports/{rid}/verify", json={}, headers=a).status_code == 409
    with services.db.session() as s:
        other = s.scalar(select(ArrivalReport.id).where(ArrivalReport.district == "450100"))
    assert client.get(f"/api/v1/arrival-reports/{other}", headers=a).status_code == 403


def test_stats_and_audit_for_admins(client, services, tokens):
    _person(services)
    stats = client.get("/api/v1/stats", headers=auth(tokens["admin"])).json
    assert stats["people_by_colour"]["yellow"] == 1 and stats["by_day"][-1]["yellow"] == 1
    client.get("/api/v1/people", query_string={"id_number": NUMBER}, headers=auth(tokens["reviewer"]))
    rows = client.get("/api/v1/audit?action=person.*", headers=auth(tokens["admin"])).json["rows"]
    assert rows and rows[0]["action"] == "person.lookup" and NUMBER not in str(rows)


def test_control_characters_are_a_400_not_a_failed_insert(client, tokens):
    r = client.put("/api/v1/risk-areas", json=[{"code": "330106", "name": "西湖\x00区", "level": "high",
                                                 "since": "2026-11-20"}], headers=auth(tokens["admin"]))
    assert r.status_code == 400 and r.json["errors"]["areas"]["0"]["name"]
    r = client.post("/api/v1/scans", json={"token": "x" * 32, "venue": "超市\x00"}, headers=auth(tokens["scanner"]))
    assert r.status_code == 400 and "venue" in r.json["errors"]
