"""Issue 15, finding 8: console sessions end when they should, forms carry CSRF tokens (sign-in
and sign-out too), and the pages a browser opens carry CSP, framing, sniffing and referrer
headers. Each test performs the attack first."""
from __future__ import annotations

import time

from bot.domain.models import Staff
from bot.domain.staff import rotate_token
from tests.support.people import code_path, person_with_code
from tests.support.staff import csrf, sign_in, sign_out, staff_token


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    target.set_cookie("session", cookie.value)


def test_a_copied_cookie_is_dead_after_sign_out(app, services):
    mine, thief = app.test_client(), app.test_client()
    sign_in(mine, staff_token(services, "reviewer"))
    _copy_cookie(mine, thief)
    assert thief.get("/console/appeals").status_code == 200  # a captured cookie works while signed in
    assert sign_out(mine).status_code == 302
    assert thief.get("/console/appeals").status_code == 302  # and not after the owner signs out
    # a new sign-in starts a session that works
    sign_in(mine, staff_token(services, "reviewer", name="另一位"))
    assert mine.get("/console/appeals").status_code == 200


def test_a_new_token_ends_every_session(app, services):
    client = app.test_client()
    token = staff_token(services, "reviewer")
    sign_in(client, token)
    assert client.get("/console/appeals").status_code == 200
    with services.db.session() as s:
        from bot.domain.staff import hash_token
        from sqlalchemy import select

        staff = s.scalar(select(Staff).where(Staff.token_hash == hash_token(token)))
        rotate_token(s, staff)
        s.commit()
    assert client.get("/console/appeals").status_code == 302


def test_sign_in_needs_the_forms_csrf_token(app, services):
    """A page on another site posting a token of the attacker's would sign the victim in as the
    attacker (login CSRF): what they then type lands in the attacker's account."""
    client = app.test_client()
    token = staff_token(services, "reviewer")
    r = client.post("/console/login", data={"token": token})
    assert r.status_code == 400
    assert client.get("/console/appeals").status_code == 302  # not signed in
    r = client.post("/console/login", data={"token": token, "csrf": "guessed"})
    assert r.status_code == 400
    assert sign_in(client, token).status_code == 302


def test_sign_out_needs_the_forms_csrf_token(app, services):
    client = app.test_client()
    sign_in(client, staff_token(services, "reviewer"))
    assert client.post("/console/logout").status_code == 400  # another site cannot sign staff out
    assert client.get("/console/appeals").status_code == 200
    assert client.post("/console/logout", data={"csrf": csrf(client)}).status_code == 302
    assert client.get("/console/appeals").status_code == 302


def test_a_session_ends_after_console_session_hours(make_app):
    app, svc = make_app(CONSOLE_SESSION_HOURS="2")
    client = app.test_client()
    sign_in(client, staff_token(svc, "reviewer"))
    assert client.get("/console/appeals").status_code == 200
    with client.session_transaction() as s:
        s["since"] = int(time.time()) - 2 * 3600 - 5  # signed in a little over two hours ago
    assert client.get("/console/appeals").status_code == 302


def test_console_and_code_pages_carry_the_browser_headers(client, services):
    pages = [client.get("/console/login")]
    sign_in(client, staff_token(services, "reviewer"))
    pages.append(client.get("/console/appeals"))
    pid = person_with_code(services, "green")
    pages.append(client.get(code_path(services, pid)))
    for r in pages:
        assert r.status_code == 200
        csp = r.headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, r.request.path
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]  # scripts only by nonce
        assert r.headers.get("X-Frame-Options") == "DENY"
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
        assert r.headers.get("Referrer-Policy") == "no-referrer"
        nonce = csp.split("'nonce-")[1].split("'")[0]
        body = r.get_data(as_text=True)
        assert body.count("<script") == body.count(f'<script nonce="{nonce}"')  # every script runs


def test_a_leaked_staff_token_is_ended_from_the_command_line(app, services):
    from tests.support.staff import auth

    client = app.test_client()
    token = staff_token(services, "reviewer")
    sign_in(client, token)
    with services.db.session() as s:
        from sqlalchemy import select

        staff_id = s.scalar(select(Staff.id))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["staff", "rotate-token", str(staff_id)])
    assert out.exit_code == 0 and "hcs_" in out.output
    new = out.output.strip().splitlines()[-1]
    assert client.get("/console/appeals").status_code == 302            # the session ended
    assert client.get("/api/v1/appeals", headers=auth(token)).status_code == 401
    assert client.get("/api/v1/appeals", headers=auth(new)).status_code == 200
    assert runner.invoke(args=["staff", "disable", str(staff_id)]).exit_code == 0
    assert client.get("/api/v1/appeals", headers=auth(new)).status_code == 401
    assert runner.invoke(args=["staff", "disable", "999"]).exit_code == 2
