"""Staff for tests: an account's token, the API's bearer header, the console's sign-in."""
from __future__ import annotations

from bot.domain.staff import create_staff


def staff_token(services, role: str, scope=None, name=None) -> str:
    with services.db.session() as s:
        return create_staff(s, role, name or f"{role} staff", scope=scope or [])[1]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, token: str):
    return client.post("/console/login", data={"token": token})
