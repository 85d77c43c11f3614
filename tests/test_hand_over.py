"""Issue 18, 首问负责制 (seed 002): the first officer to open an arrival report owns it until they
hand it over to another district with the receiving officer's name and phone; the second
district sees it, the first no longer owns it, and the timeline shows both."""
from __future__ import annotations

from sqlalchemy import select

from bot.domain.models import ArrivalReport, AuditLog
from bot.infra.db import utcnow
from tests.support.people import person_with_code
from tests.support.staff import auth, staff_token


def test_a_report_handed_over_to_another_district(client, services):
    pid = person_with_code(services, "yellow")
    with services.db.session() as s:
        s.add(ArrivalReport(person_id=pid, origin_address="广西南宁市青秀区某路1号", left_on=utcnow().date(),
                            arrival_on=utcnow().date(), destination_address="杭州市西湖区某街道2号",
                            district="330106", phone_confirmed=True))
    first = auth(staff_token(services, "community", ["330106"], name="西湖甲"))
    second = auth(staff_token(services, "community", ["330110"], name="余杭乙"))
    rid = client.get("/api/v1/arrival-reports", headers=first).json["reports"][0]["id"]
    body = {"district": "330110", "receiver_name": "余杭乙", "receiver_contact": "0571-88888888",
            "note": "已搬到余杭区居住"}
    assert client.post(f"/api/v1/arrival-reports/{rid}/handover", json=body, headers=first).status_code == 403  # not opened
    assert client.get(f"/api/v1/arrival-reports/{rid}", headers=first).json["mine"]
    assert client.post(f"/api/v1/arrival-reports/{rid}/handover", json={"district": "3301"},
                       headers=first).status_code == 400
    moved = client.post(f"/api/v1/arrival-reports/{rid}/handover", json=body, headers=first)
    assert moved.status_code == 200 and moved.json == {"id": rid, "status": "pending", "district": "330110"}
    # the first district no longer has it; the second does, and its first opener owns it
    assert client.get("/api/v1/arrival-reports", headers=first).json["reports"] == []
    assert client.get(f"/api/v1/arrival-reports/{rid}", headers=first).status_code == 403
    assert [r["id"] for r in client.get("/api/v1/arrival-reports", headers=second).json["reports"]] == [rid]
    opened = client.get(f"/api/v1/arrival-reports/{rid}", headers=second).json
    assert opened["mine"] and opened["claimed_by"] == "余杭乙"
    kinds = [e["kind"] for e in opened["timeline"]]
    assert kinds == ["filed", "handed_over"]
    step = opened["timeline"][1]
    assert (step["by"], step["from_district"], step["to_district"], step["receiver_name"], step["receiver_contact"]) == (
        "西湖甲", "330106", "330110", "余杭乙", "0571-88888888")
    assert opened["timeline"][0]["district"] == "330106"
    assert client.post(f"/api/v1/arrival-reports/{rid}/verify", json={"note": "已核实"}, headers=second).status_code == 200
    timeline = client.get(f"/api/v1/arrival-reports/{rid}", headers=second).json["timeline"]
    assert [e["kind"] for e in timeline] == ["filed", "handed_over", "verified"]
    with services.db.session() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "arrival_report.handed_over"))
        raw = s.execute(select(__import__("sqlalchemy").text("receiver_contact, note FROM report_hand_overs"))).first()
    assert row.detail["to_district"] == "330110" and "余杭" not in str(row.detail)  # no free text in the audit log
    assert "0571" not in raw[0] and "余杭" not in (raw[1] or "")  # sealed at rest


def test_the_console_hands_a_report_over(app, services):
    from tests.support.staff import csrf, sign_in

    pid = person_with_code(services, "yellow")
    with services.db.session() as s:
        report = ArrivalReport(person_id=pid, origin_address="南宁某路", left_on=utcnow().date(),
                               arrival_on=utcnow().date(), destination_address="西湖某街", district="330106")
        s.add(report)
        s.flush()
        rid = report.id
    client = app.test_client()
    sign_in(client, staff_token(services, "community", ["330106"], name="西湖甲"))
    page = client.get(f"/console/arrivals/{rid}").get_data(as_text=True)
    assert 'id="handover"' in page and "办理经过" in page
    bad = client.post(f"/console/arrivals/{rid}/handover", data={"csrf": csrf(client), "district": "x"})
    assert bad.status_code == 302
    done = client.post(f"/console/arrivals/{rid}/handover", data={
        "csrf": csrf(client), "district": "330110", "name": "余杭乙", "contact": "13900001111", "note": "搬家"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/console/arrivals")
    assert client.get(f"/console/arrivals/{rid}").status_code == 404  # out of this officer's districts now
    other = app.test_client()
    sign_in(other, staff_token(services, "community", ["330110"], name="余杭乙"))
    page = other.get(f"/console/arrivals/{rid}").get_data(as_text=True)
    assert "由辖区 330106 移交至 330110" in page and "余杭乙（13900001111）" in page
