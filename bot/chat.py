"""One inbound message through the conversation: dedupe, lock, state, engine, actions, answer.

Channel adapters call ChatService.answer(msg) and get the texts to send back. It never raises
for what a user sends or for a broken Redis or database: the user then reads "busy, try again"
and nothing already stored is lost (the half-filled state stays as it was).

answer() waits at most REPLY_DEADLINE seconds (WeChat gives 5): a message that takes longer
is finished in the background and its answer stored as a notice for the push workers; the
webhook meanwhile answers "success" (an empty list here).
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from functools import cached_property

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

import handlers
from bot.codes import CodeConflict
from bot.conversation.engine import Engine
from bot.conversation.messages import Inbound
from bot.conversation.store import Busy, ConversationStore
from bot.db import utcnow
from bot.texts import say
from handlers.answers import words

log = logging.getLogger("bot.chat")


class ChatService:
    def __init__(self, services):
        self.services = services
        settings = services.settings
        self.engine = Engine(handlers.flows(), words(), options=self.options, timeout=settings.conversation_timeout,
                             say=say)
        self.deadline = settings.reply_deadline
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @cached_property
    def store(self) -> ConversationStore:
        return ConversationStore(self.services.redis.client(), self.services.vault,
                                 self.services.settings.conversation_timeout)

    def options(self) -> dict:
        policy = self.services.policy
        return {"sms_verification": self.services.settings.sms_verification, "features": policy.features,
                "policy": policy.name}

    # -- the webhook's entry -------------------------------------------------------------------

    def answer(self, msg: Inbound) -> list[str]:
        """The texts to answer with, within the deadline; [] means: answer "success" now."""
        future = self._executor().submit(contextvars.copy_context().run, self.handle, msg)
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            log.warning("answer not ready in %.1f s; finishing in the background", self.deadline)
            future.add_done_callback(lambda f: self._late(msg, f))
            return []

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chat")
        return self._pool

    def _late(self, msg: Inbound, future) -> None:
        """A late answer becomes a pending notice: the push workers send it as a message."""
        try:
            replies = future.result()
            if not replies:
                return
            from bot.chat_actions import identity
            from bot.models import Notice

            with self.services.db.session() as s:
                ident = identity(s, msg, create=True)
                s.add(Notice(person_id=ident.person_id, identity_id=ident.id, kind="chat_reply",
                             payload={"texts": replies}))
        except Exception:
            log.exception("a late answer could not be stored")

    # -- the work ------------------------------------------------------------------------------

    def handle(self, msg: Inbound, now=None) -> list[str]:
        conversation, dedupe = msg.conversation_key, msg.dedupe_key
        try:
            begun = self.store.begin(conversation, dedupe)
        except (RedisError, Busy) as exc:
            log.warning("conversation store unavailable: %s", exc.__class__.__name__)
            return [say("common.busy")]
        if begun.status == "seen":  # a retry: the first answer, once it is there
            answer = begun.value or self.store.wait_answer(conversation, dedupe, self.deadline)
            return json.loads(answer) if answer else []
        try:
            state = self.store.load(begun.value)
            state, replies = self.engine.process(state, msg, self._runner(msg), now or utcnow())
            self.store.finish(conversation, dedupe, begun.token, state, json.dumps(replies, ensure_ascii=False))
            return replies
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("message not handled, storage failed: %s", exc.__class__.__name__)
        except Exception:
            log.exception("message not handled")
        try:
            self.store.abandon(conversation, dedupe, begun.token)
        except RedisError:
            pass
        return [say("common.busy")]

    def _runner(self, msg: Inbound):
        from bot.chat_actions import ACTIONS

        def run(name: str, payload: dict) -> dict:
            fn = ACTIONS[name]
            for attempt in range(3):
                try:
                    with self.services.db.session() as s:
                        return fn(self.services, s, msg, payload)
                except (CodeConflict, IntegrityError, OperationalError):
                    # a concurrent change to the same code, or SQLite's stale snapshot: do it again
                    if attempt == 2:
                        raise
        return run
