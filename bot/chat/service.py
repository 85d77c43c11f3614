"""One inbound message through the conversation: dedupe, lock, state, engine, actions, answer.

Channel adapters call ChatService.answer(msg) and get the texts to send back. It never raises
for what a user sends or for a broken Redis or database: the user then reads "busy, try again"
and nothing already stored is lost (the half-filled state stays as it was).

Nothing slow happens inside the request: the Redis part is one round trip (dedupe, lock, state)
and one write not waited for, and the actions (database work) run on a thread pool with the
time left of REPLY_DEADLINE (WeChat gives 5 s).
An action that is not done in time is left to finish in the background: the message is then
replayed against the action's result (the engine is deterministic given its inputs and the
actions' results), its state saved and its answer stored as a notice for the push workers,
while the webhook answers "success" at once (an empty list here).
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from functools import cached_property

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

import handlers
from bot.chat import faq
from bot.chat.actions import ACTIONS
from bot.chat.actions.common import identity
from bot.domain.codes import CodeConflict
from bot.chat.conversation.engine import Engine
from bot.chat.conversation.messages import Inbound
from bot.chat.conversation.store import Busy, ConversationStore
from bot.infra.db import utcnow
from bot.infra import texts
from bot.infra.texts import say
from bot.chat.conversation.answers import words

log = logging.getLogger("bot.chat.service")


class Late(Exception):
    """An action outlived the deadline: `future` will hold its result, `results` the earlier ones."""

    def __init__(self, future, results: list):
        super().__init__("late")
        self.future = future
        self.results = results


class ChatService:
    def __init__(self, services, flows=None):
        self.services = services
        settings = services.settings
        self.engine = Engine(flows or handlers.flows(), words(), options=self.options,
                             timeout=settings.conversation_timeout, say=say)
        self.deadline = settings.reply_deadline
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._options: dict[str, tuple[float, dict]] = {}

    @cached_property
    def store(self) -> ConversationStore:
        return ConversationStore(self.services.redis.client(), self.services.vault,
                                 self.services.settings.conversation_timeout,
                                 rate_per_min=self.services.settings.chat_rate_per_min)

    def options(self) -> dict:
        """What flows may read of the deployment, the FAQ in the language in hand; the policy file
        is looked at once a second."""
        now, lang = time.monotonic(), texts.language.get()
        cached = self._options.get(lang)
        if cached is None or now - cached[0] > 1.0:
            policy = self.services.policy
            cached = self._options[lang] = (now, {
                "sms_verification": self.services.settings.sms_verification, "features": policy.features,
                "policy": policy.name, "faq": faq.entries(lang), "faq_intents": faq.intents(lang)})
        return cached[1]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chat")
        return self._pool

    # -- the webhook's entry -------------------------------------------------------------------

    def answer_later(self, msg: Inbound) -> int:
        """For channels whose replies go through their API (Alipay, the mini-program): handle
        the message now and leave the texts as a chat_reply notice for the push workers. A retry
        of a message already handled sends nothing again. Returns the number of texts queued."""
        replies = self.answer(msg, replay_retries=False)
        if replies:
            self._queue_reply(msg, replies)
        return len(replies)

    def _queue_reply(self, msg: Inbound, replies: list[str]) -> None:
        """Texts for this chat user, pushed by the workers (not a passive reply)."""
        from bot.domain.models import Notice
        from bot.domain.notices import nudge_after_commit

        with self.services.db.session() as s:
            ident = identity(s, msg, create=True)
            s.add(Notice(person_id=ident.person_id, identity_id=ident.id, kind="chat_reply", payload={"texts": replies}))
            nudge_after_commit(s)

    def answer(self, msg: Inbound, now=None, replay_retries: bool = True) -> list[str]:
        """The texts to answer with; [] means: answer "success" now. `replay_retries`: a retry
        gets the first answer again (passive replies); otherwise it gets nothing."""
        conversation, dedupe = msg.conversation_key, msg.dedupe_key
        started = time.monotonic()
        try:
            begun = self.store.begin(conversation, dedupe, replay=msg.replay)  # Replayed goes to the channel
        except (RedisError, Busy) as exc:
            log.warning("conversation store unavailable: %s", exc.__class__.__name__)
            return [say("common.busy")]
        # the account's language: Redis' copy; the database only for a message to handle (never
        # for a retry or a flood) when the copy is gone
        language = texts.language.set(begun.language or (
            self._stored_language(msg) if begun.status == "ok" else texts.SOURCE_LANGUAGE))
        try:
            return self._answer(msg, begun, now, replay_retries, started)
        finally:
            texts.language.reset(language)

    def _answer(self, msg: Inbound, begun, now, replay_retries: bool, started: float) -> list[str]:
        conversation, dedupe = msg.conversation_key, msg.dedupe_key
        if begun.status == "limited":  # flooding: said once, then silence until the minute is over
            return [say("common.slow_down")] if begun.value == "1" else []
        if begun.status == "seen":  # a retry: the first answer, once it is there
            if not replay_retries:
                return []
            answer = self.store.opened(begun.value) or self.store.wait_answer(conversation, dedupe, self.deadline)
            return json.loads(answer) if answer else []
        now = now or utcnow()
        try:
            state, replies = self.engine.process(self.store.load(begun.value), msg, self._runner(msg, started), now)
            self.store.finish(conversation, dedupe, begun.token, state, json.dumps(replies, ensure_ascii=False),
                              wait=False, language=texts.language.get())
            return replies
        except Late as late:
            log.warning("an action took longer than %.1f s; finishing in the background", self.deadline)
            earlier = late.results
            context = contextvars.copy_context()  # the language in hand goes with it
            late.future.add_done_callback(lambda f: context.run(self._resume, msg, begun, now, earlier, f))
            return []
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("message not handled, storage failed: %s", exc.__class__.__name__)
        except Exception:
            # a bug, not a passing fault: end the flow so the user is not stuck on it
            log.exception("message not handled; the conversation is reset")
            replies = [say("common.error")]
            try:
                self.store.finish(conversation, dedupe, begun.token, None, json.dumps(replies, ensure_ascii=False))
                return replies
            except RedisError:
                pass
        self._abandon(msg, begun)
        return [say("common.busy")]

    def _abandon(self, msg: Inbound, begun) -> None:
        try:
            self.store.abandon(msg.conversation_key, msg.dedupe_key, begun.token)
        except RedisError:
            pass

    def _stored_language(self, msg: Inbound) -> str:
        """The account's language when Redis has no copy (a first message, or 48 h of silence)."""
        if msg.channel == "counter":
            return texts.SOURCE_LANGUAGE
        try:
            with self.services.db.session() as s:
                row = identity(s, msg)
                return (row.language if row is not None else None) or texts.SOURCE_LANGUAGE
        except SQLAlchemyError:
            return texts.SOURCE_LANGUAGE

    @staticmethod
    def _applied(name: str, result: dict) -> dict:
        """A language switch holds for the rest of the message: what is said after it, and what
        finish() keeps for the next ones."""
        if name == "language":
            texts.language.set(result["language"])
        return result

    def _runner(self, msg: Inbound, started: float):
        def run(name: str, payload: dict) -> dict:
            left = self.deadline - (time.monotonic() - started)
            future = self._executor().submit(contextvars.copy_context().run, self.act, msg, name, payload)
            try:
                result = future.result(timeout=max(left, 0.01))
            except FutureTimeout:
                raise Late(future, list(done)) from None
            done.append(result)
            return self._applied(name, result)

        done: list = []
        return run

    def act(self, msg: Inbound, name: str, payload: dict) -> dict:
        """Run one action in a transaction of its own, again when a concurrent change interfered."""
        fn = ACTIONS[name]
        for attempt in range(3):
            try:
                with self.services.db.session() as s:
                    return fn(self.services, s, msg, payload)
            except (CodeConflict, IntegrityError, OperationalError):
                # a concurrent change to the same code, or SQLite's stale snapshot: do it again
                if attempt == 2:
                    raise

    def _resume(self, msg: Inbound, begun, now, results: list, future) -> None:
        """The late action is done: replay the message with its result, save, leave a notice."""
        try:
            cached = [*results, future.result()]

            def replay(name: str, payload: dict) -> dict:
                return self._applied(name, cached.pop(0) if cached else self.act(msg, name, payload))

            state, replies = self.engine.process(self.store.load(begun.value), msg, replay, now)
            self.store.finish(msg.conversation_key, msg.dedupe_key, begun.token, state,
                              json.dumps(replies, ensure_ascii=False), language=texts.language.get())
            if replies:
                self._queue_reply(msg, replies)
        except Exception:
            log.exception("a late message could not be finished")
            self._abandon(msg, begun)
