"""Signed tokens in links: the code page's view token (bound to the person, 7 days)."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

VIEW_TTL = 7 * 86400


def _viewer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="code-view")


def view_token(secret: bytes, person_id: int) -> str:
    return _viewer(secret).dumps(person_id)


def read_view_token(secret: bytes, token: str) -> int | None:
    """The person id, or None when the token is altered, forged or older than 7 days."""
    try:
        value = _viewer(secret).loads(token, max_age=VIEW_TTL)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def code_link(settings, person_id: int) -> str:
    return f"{settings.public_base_url}/codes/{view_token(settings.secret_key, person_id)}"
