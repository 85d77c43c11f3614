"""Staff accounts and their bearer tokens (stored as SHA-256: a token has 256 bits of entropy,
so a plain hash is enough to make a stolen database useless for signing in)."""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.errors import Forbidden
from bot.domain.models import ROLES, Staff
from bot.infra.db import utcnow

TOKEN_PREFIX = "hcs_"


class StaffError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_scope(role: str, scope: list[str]) -> list[str]:
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    for district in scope:
        if not re.fullmatch(r"\d{2,12}", district):
            raise StaffError(f"scope must be district codes (digits, e.g. 330624), got {district!r}")
    if role == "community" and not scope:
        raise StaffError("a community account needs --scope with at least one district code")
    return scope


def create_staff(session: Session, role: str, name: str, scope: list[str] | None = None) -> tuple[Staff, str]:
    """Create an account; the token is returned once and only its hash is kept."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 64:
        raise StaffError("name must be 1 to 64 characters")
    scope = validate_scope(role, list(scope or []))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    staff = Staff(name=name, role=role, scope=scope, token_hash=hash_token(token), token_hint=token[:10])
    session.add(staff)
    session.flush()
    return staff, token


def rotate_token(session: Session, staff: Staff) -> str:
    """A new token; the old one and every console session end."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    staff.token_hash, staff.token_hint = hash_token(token), token[:10]
    end_sessions(staff)
    return token


def end_sessions(staff: Staff) -> str:
    """Every console session of this staff member ends; returns the nonce new sessions carry."""
    staff.session_nonce = secrets.token_hex(16)
    return staff.session_nonce


def authenticate(session: Session, token: str | None) -> Staff | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    staff = session.scalar(select(Staff).where(Staff.token_hash == hash_token(token)))
    if staff is None or staff.disabled_at is not None:
        return None
    staff.last_used_at = utcnow()
    return staff


def in_scope(staff: Staff, district: str | None) -> bool:
    """Community staff act only within their districts (a scope code covers the codes under it)."""
    if staff.role != "community":
        return True
    return bool(district) and any(district.startswith(code) for code in (staff.scope or []))


def require_scope(staff: Staff, district: str | None) -> None:
    if not in_scope(staff, district):
        raise Forbidden("outside your districts")


def districts(staff: Staff) -> list[str] | None:
    """The districts a staff member is limited to (None: not limited)."""
    return list(staff.scope or []) if staff.role == "community" else None
