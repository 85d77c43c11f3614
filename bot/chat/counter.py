"""The chat's declare flow at a service counter (线下窗口): the clerk types the person's answers into
a console page. The same flow table (handlers/declare.py) asks the same questions, checks the
same answers and stores the declaration through the same action; only the message differs.
Its channel is "counter", its app the clerk, its user the person's id, and `extra`
carries both ids (bot.chat.actions.common.at_counter). Each clerk has a conversation of their
own per person, kept sealed in Redis like a chat's, with the same time-out, dedupe and lock. A
form sent twice (its nonce is the message id) is answered once.
"""
from __future__ import annotations

import handlers
from bot.chat.conversation.messages import Inbound
from bot.chat.service import ChatService
from bot.domain.vocab import Source
from bot.infra.db import utcnow

FLOWS = ("declare",)   # what a clerk may do for someone through the chat's flows
DEADLINE = 20.0        # a page may wait longer than a platform's 5 s


class _Desk(ChatService):
    def _queue_reply(self, msg: Inbound, texts: list[str]) -> None:
        """A late answer has no chat to go to: the page shows the saved question when reloaded."""


class CounterDesk:
    def __init__(self, services):
        self.chat = _Desk(services, flows=[f for f in handlers.flows() if f.name in FLOWS])
        self.chat.deadline = max(self.chat.deadline, DEADLINE)

    @staticmethod
    def message(staff, person, *, text: str = "", nonce: str = "", start: str = "") -> Inbound:
        extra = {"person_id": person.id, "staff_id": staff.id}
        if start:  # like a menu click: the flow begins
            return Inbound(Source.COUNTER, str(staff.id), str(person.id), "event", event="click", event_key=start,
                           msg_id=nonce, extra=extra)
        return Inbound(Source.COUNTER, str(staff.id), str(person.id), "text", text=text, msg_id=nonce, extra=extra)

    def start(self, staff, person, flow: str, nonce: str) -> list[str]:
        if flow not in FLOWS:
            raise ValueError(f"a clerk cannot run {flow!r}")
        return self.chat.answer(self.message(staff, person, start=flow, nonce=nonce))

    def answer(self, staff, person, text: str, nonce: str) -> list[str]:
        return self.chat.answer(self.message(staff, person, text=text, nonce=nonce))

    def question(self, staff, person) -> str | None:
        """The question this clerk's flow for this person waits on; None when none is under way."""
        conversation = self.message(staff, person).conversation_key
        return self.chat.engine.question(self.chat.store.peek(conversation), utcnow())
