"""The effect registry: outbox kind -> function. Effect modules register with @effect.

An effect gets an EffectContext and does its database work in ctx.session; that session's
commit is the same one that marks the outbox row done. Calls to the outside world go through
ctx.once(key, call), which records the result in the effect ledger so a re-run after a crash
does not call again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

EFFECTS: dict[str, Callable[["EffectContext"], Any]] = {}


class PermanentError(Exception):
    """The effect can never succeed (bad payload, unknown kind): fail the row, do not retry."""


def effect(kind: str):
    def register(fn):
        EFFECTS[kind] = fn
        return fn
    return register


@dataclass
class EffectContext:
    services: Any
    session: Session
    outbox_id: int
    kind: str
    payload: dict
    key: str | None
    attempt: int

    def once(self, key: str, call: Callable[[], dict]) -> dict:
        """Run an outside call at most once per key; later runs get the recorded result."""
        from bot.infra.outbox import EffectLedger

        with self.services.db.session() as s:
            done = s.get(EffectLedger, key)
            if done is not None:
                return done.result
        result = call() or {}
        try:
            with self.services.db.session() as s:
                s.add(EffectLedger(key=key, outbox_id=self.outbox_id, result=result))
        except IntegrityError:  # a concurrent run recorded it first
            pass
        return result


@effect("ledger.record")
def record(ctx: EffectContext):
    """Write an idempotency mark: used by operators to check the pipeline end to end
    (`flask outbox ping`) and by the tests."""
    from bot.infra.outbox import EffectLedger

    ctx.session.add(EffectLedger(key=ctx.payload["mark"], outbox_id=ctx.outbox_id, result=ctx.payload))
