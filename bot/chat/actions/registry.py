"""The actions the flows ask for by name (Act): one registry, filled by the modules of this
package with @action. An action gets (services, session, msg, payload) and returns a plain dict
for the flow's next step and its templates: masked values only, never a full name or number.
Each runs in one database transaction (bot.chat.service)."""
from __future__ import annotations

from typing import Callable

ACTIONS: dict[str, Callable] = {}


def action(name: str):
    def register(fn):
        if name in ACTIONS:
            raise ValueError(f"action {name!r} is registered twice")
        ACTIONS[name] = fn
        return fn
    return register
