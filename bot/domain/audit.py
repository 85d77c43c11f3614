"""The audit log: append-only rows for every read of personal data and every change.

Details hold ids, field names, counts, closed words and masked values, never free text: the log
cannot be edited, so it outlives a purge of the personal data. A string longer than
MAX_DETAIL_TEXT, Chinese text that is not masked, or a nested mapping, is refused at the call (a bug, caught by any test
that reaches it)."""
from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.infra.db import utcnow
from bot.infra.logs import request_id
from bot.domain.models import AuditLog


MAX_DETAIL_TEXT = 32  # the longest masked value (an ID number, 18) or word (an action, a rule id)


def _plain(value) -> bool:
    if isinstance(value, str):  # Chinese text only masked (a name: 王*): words here are keys
        return len(value) <= MAX_DETAIL_TEXT and ("*" in value or not any("\u3400" <= c <= "\u9fff" for c in value))
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float))


def record(session: Session, action: str, *, actor_kind: str, actor_id: int | None = None,
           subject_person_id: int | None = None, **detail) -> None:
    """Append a row in the caller's transaction (a plain INSERT: no ORM bookkeeping)."""
    bad = [k for k, v in detail.items() if not _plain(v)]
    if bad:
        raise ValueError(f"audit detail {bad} is not an id, a word or a masked value")
    session.connection().execute(_INSERT, dict(
        at=utcnow(), action=action, actor_kind=actor_kind, actor_id=actor_id, subject_person_id=subject_person_id,
        detail=detail, request_id=request_id.get()))


_INSERT = insert(AuditLog).inline()  # no RETURNING: the id is not read


def by_staff(session: Session, staff, action: str, subject_person_id: int | None = None, **detail) -> None:
    """A staff member's read or change (their role goes with it)."""
    record(session, action, actor_kind="staff", actor_id=staff.id, subject_person_id=subject_person_id,
           role=staff.role, **detail)
