"""One retry policy for everything that is tried again later (outbox effects, push notices):
exponential back-off from a first delay, capped, and a number of attempts after which the
work is given up with its reason."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Retry:
    first: float            # seconds before the second attempt
    cap: float = 3600.0     # the longest wait between two attempts
    attempts: int = 8       # attempts in all

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the `attempts`-th attempt failed."""
        return dt.timedelta(seconds=min(self.first * 2 ** max(attempts - 1, 0), self.cap))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.attempts


OUTBOX = Retry(first=5)
NOTICES = Retry(first=15)
