"""How a flow is declared (like python-telegram-bot's ConversationHandler, as data).

    FLOW = Flow(
        name="declare", menu=1,
        entry=start,                          # ctx -> outcome
        states={
            "name": Ask("declare.ask_name", Name(), got_name),   # prompt, field, step
            ...
        })

A step gets the context and the validated value and returns an outcome:
- a state name: ask that state's question next (the engine remembers the way back for the "back" word);
- End(...): the flow is over, say these messages;
- Act(action, payload, then): the engine runs the named action (the only I/O, done outside the
  handler: database, SMS) and calls then(ctx, result) for the next outcome.
A step (or a then) that raises bot.chat.conversation.answers.Invalid counts as a wrong answer.
Replies said with ctx.say(...) before the outcome come first.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from marshmallow import ValidationError

from bot.chat.conversation.messages import Inbound


class Invalid(ValidationError):
    """A wrong answer: `key` names the message in templates/chat/errors.txt, `values` what it shows.
    Raised by an answer field, or by a step (or a then) that finds the answer cannot stand."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Ask:
    prompt: str                                  # template key of the question
    field: Any                                   # a marshmallow Field, or ctx -> Field
    step: Callable[["Ctx", Any], "Outcome"]
    accepts: tuple[str, ...] = ("text",)         # message kinds this question takes
    values: Callable[["Ctx"], dict] | None = None  # what the prompt shows besides ctx.data


@dataclass(frozen=True)
class End:
    messages: tuple = ()                         # (template key, values) pairs

    @classmethod
    def say(cls, key: str, **values) -> "End":
        return cls(((key, values),))


@dataclass(frozen=True)
class Act:
    action: str
    payload: Any                                 # the action's own dataclass (None: it takes nothing)
    then: Callable[["Ctx", dict], "Outcome"]


Outcome = Union[str, End, Act]


@dataclass(frozen=True)
class Flow:
    name: str
    states: dict[str, Ask]
    entry: Callable[["Ctx"], Outcome]
    menu: int | None = None                      # its number in the main menu (None: not listed)
    feature: str | None = None                   # a region-policy feature that must be on
    match: Callable[["Ctx", str], "Outcome | None"] | None = None  # free text outside any flow


@dataclass
class Ctx:
    """What a step may read and change: the answers so far, the clock, the deployment's options."""

    data: dict
    now: dt.datetime                             # aware, Asia/Shanghai
    options: dict                                # sms_verification, features, policy
    message: Inbound | None = None
    said: list = field(default_factory=list)
    settled: bool = False                        # the steps so far cannot be gone back to

    def settle(self) -> None:
        """What was answered so far is done with (e.g. an account now bound): "back" stops here."""
        self.settled = True

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def say(self, key: str, **values) -> None:
        self.said.append((key, values))
