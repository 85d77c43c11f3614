"""Issue 18, 代查: staff at an entrance or a counter look up the code of someone without a phone
by ID number: colour and masked name only, recorded like a scan, audited, limited per staff
member (LOOKUP_RATE_LIMIT)."""
from __future__ import annotations

from sqlalchemy import select

from bot.domain.models import AuditLog, Scan
from tests.support.chat import id_card
from tests.support.people import person_with_code
from tests.support.staff import auth, staff_token

NUMBER = id_card("11010119500101123")


def test_a_look_up_gives_colour_and_masked_name_only(client, services):
    person_with_code(services, "yellow", name="王大爷", number=NUMBER)
    for role in ("scanner", "counter"):
        r = client.post("/api/v1/lookups", json={"id_number": NUMBER, "venue": "菜市场东门"},
                        headers=auth(staff_token(services, role, name=f"{role}甲")))
        assert r.status_code == 200, r.json
        assert set(r.json) == {"colour", "masked_name", "looked_up_at", "scan_id"}
        assert (r.json["colour"], r.json["masked_name"]) == ("yellow", "王**")
        assert NUMBER not in r.get_data(as_text=True) and "王大爷" not in r.get_data(as_text=True)
    assert client.post("/api/v1/lookups", json={"id_number": NUMBER, "venue": "x"},
                       headers=auth(staff_token(services, "reviewer"))).status_code == 403
    miss = client.post("/api/v1/lookups", json={"id_number": id_card("11010119500101131"), "venue": "菜市场东门"},
                       headers=auth(staff_token(services, "scanner", name="乙")))
    assert miss.status_code == 404
    with services.db.session() as s:
        scans = s.scalars(select(Scan).where(Scan.verdict == "lookup")).all()
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "person.lookup_for")).all()
    assert [(x.venue, x.colour, x.masked_name) for x in scans] == [("菜市场东门", "yellow", "王**")] * 2
    assert [r.detail["found"] for r in rows] == [True, True, False]
    assert all(NUMBER not in str(r.detail) for r in rows)


def test_the_look_up_limit_answers_429(make_app):
    app, svc = make_app(LOOKUP_RATE_LIMIT="2 per hour")
    person_with_code(svc, "green", number=NUMBER)
    client = app.test_client()
    mine, other = auth(staff_token(svc, "scanner", name="甲")), auth(staff_token(svc, "scanner", name="乙"))
    body = {"id_number": NUMBER, "venue": "门口"}
    codes = [client.post("/api/v1/lookups", json=body, headers=mine).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.post("/api/v1/lookups", json=body, headers=other).status_code == 200  # per staff member
    assert client.post("/api/v1/scans", json={"token": "x", "venue": "门口"}, headers=mine).status_code != 429


def test_the_console_and_the_api_share_the_limit(make_app):
    """Serving at a counter, 代查 on the console and the API draw on one bucket per staff member:
    switching from the API to the console is no way round the limit."""
    from tests.support.staff import csrf, sign_in

    app, svc = make_app(LOOKUP_RATE_LIMIT="3 per hour")
    person_with_code(svc, "green", name="王大爷", number=NUMBER)
    token = staff_token(svc, "counter", name="窗口甲")
    api, console = app.test_client(), app.test_client()
    sign_in(console, token)
    assert api.post("/api/v1/lookups", json={"id_number": NUMBER, "venue": "门口"}, headers=auth(token)).status_code == 200
    looked = console.post("/console/lookups", data={"id_number": NUMBER, "venue": "门口", "csrf": csrf(console)})
    assert looked.status_code == 200 and "王**" in looked.get_data(as_text=True)
    served = console.post("/console/counter", data={"name": "王大爷", "id_type": "id_card", "id_number": NUMBER,
                                                    "documents_checked": "1", "consent": "1", "csrf": csrf(console)})
    assert served.status_code == 302
    again = console.post("/console/lookups", data={"id_number": NUMBER, "venue": "门口", "csrf": csrf(console)})
    assert again.status_code == 429
    hotline = app.test_client()
    sign_in(hotline, staff_token(svc, "hotline", name="话务员甲"))
    codes = [hotline.post("/console/hotline", data={"name": "王大爷", "id_number": NUMBER, "phone_tail": "0000",
                                                   "callback_phone": "13700001234", "reason_code": "2",
                                                   "description": "核酸阴性仍是黄码", "csrf": csrf(hotline)}).status_code
             for _ in range(4)]
    assert codes == [400, 400, 400, 429]
