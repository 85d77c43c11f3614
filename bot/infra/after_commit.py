"""Work that must wait for the commit (enqueue a job, nudge the push workers, schedule a tick):
registered on the session with on_commit(session, key, fn, value), run once after the commit,
forgotten on rollback. Nothing reaches Redis for a transaction that did not happen.

Each key runs once per transaction; registering it again combines the values (`combine`, e.g.
min for the earliest tick, list concatenation for rows) or keeps the first. A failure is logged
and left to the sweeps (the outbox sweep, the worker's notice sweep): the commit stands.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
KEY = "after_commit"


def on_commit(session: Session, key: str, fn: Callable[[Any, Any], None], value: Any = None,
              combine: Callable[[Any, Any], Any] | None = None) -> None:
    """After this session commits, call fn(services, value) once for this key."""
    pending: dict = session.info.setdefault(KEY, {})
    if key in pending:
        old_fn, old_value = pending[key]
        pending[key] = (old_fn, combine(old_value, value) if combine else old_value)
    else:
        pending[key] = (fn, value)


def install(maker: sessionmaker, services) -> None:
    @event.listens_for(maker, "after_commit")
    def _run(session):
        for key, (fn, value) in session.info.pop(KEY, {}).items():
            try:
                fn(services, value)
            except Exception as exc:  # Redis down: the sweeps pick it up
                log.warning("after-commit %s deferred to the sweeps: %s", key, exc)

    @event.listens_for(maker, "after_soft_rollback")
    def _forget(session, _previous):
        session.info.pop(KEY, None)
