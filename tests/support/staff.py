"""Staff for tests: an account's token, the API's bearer header, the console's sign-in."""
from __future__ import annotations

from bot.domain.staff import create_staff


def staff_token(services, role: str, scope=None, name=None) -> str:
    with services.db.session() as s:
        return create_staff(s, role, name or f"{role} staff", scope=scope or [])[1]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def csrf(client) -> str:
    """The session's CSRF token (the sign-in page sets one before anyone signs in)."""
    with client.session_transaction() as s:
        if "csrf" in s:
            return s["csrf"]
    client.get("/console/login")
    with client.session_transaction() as s:
        return s.get("csrf", "")


def sign_in(client, token: str):
    """The sign-in form as a browser posts it: the page first, for its CSRF token."""
    return client.post("/console/login", data={"token": token, "csrf": csrf(client)})


def sign_out(client):
    return client.post("/console/logout", data={"csrf": csrf(client)})
