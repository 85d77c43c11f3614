"""The audit log: append-only rows for every read of personal data and every change.
Details hold masked values only."""
from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.infra.db import utcnow
from bot.infra.logs import request_id
from bot.domain.models import AuditLog


def record(session: Session, action: str, *, actor_kind: str, actor_id: int | None = None,
           subject_person_id: int | None = None, **detail) -> None:
    """Append a row in the caller's transaction (a plain INSERT: no ORM bookkeeping)."""
    session.connection().execute(_INSERT, dict(
        at=utcnow(), action=action, actor_kind=actor_kind, actor_id=actor_id, subject_person_id=subject_person_id,
        detail=detail, request_id=request_id.get()))


_INSERT = insert(AuditLog).inline()  # no RETURNING: the id is not read


def by_staff(session: Session, staff, action: str, subject_person_id: int | None = None, **detail) -> None:
    """A staff member's read or change (their role goes with it)."""
    record(session, action, actor_kind="staff", actor_id=staff.id, subject_person_id=subject_person_id,
           role=staff.role, **detail)
