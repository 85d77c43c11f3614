"""Signed tokens in links: the code page's view token (bound to the person, 7 days)."""
from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

VIEW_TTL = 7 * 86400  # the code page checks it (issue 5)


def _viewer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="code-view")


def view_token(secret: bytes, person_id: int) -> str:
    return _viewer(secret).dumps(person_id)


def code_link(settings, person_id: int) -> str:
    return f"{settings.public_base_url}/codes/{view_token(settings.secret_key, person_id)}"
