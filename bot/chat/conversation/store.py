"""Conversation state in Redis, shared by every web process: two round trips per message.

begin():  refuse a replay (a channel's timestamp + nonce seen with another body), dedupe the
          message (a retry gets the first answer), take the user's lock, count the message
          against the user's rate (once, with the lock held), read the state.
finish(): save the state, remember the answer for retries, note the user's last message time
          (WeChat's 48-hour window for customer-service messages) and the language the user
          reads (a copy of channel_identities.language, so that begin() hands it over with the
          state instead of a database read per message), release the lock. The webhook
          sends it without waiting for the reply (see bot.infra.redis.scripts).

The lock serialises two messages of one user arriving at once; the second waits for the first.
States hold half-entered personal data and answers hold code page links, so both are
encrypted with the PII key.
"""
from __future__ import annotations

import json
import logging
import secrets
import time

from bot.infra.pii import DecryptError, Vault

log = logging.getLogger("bot.chat.service")

BEGIN = """
if #KEYS > 5 then
  local prior = redis.call('GET', KEYS[6])
  if not prior then redis.call('SET', KEYS[6], ARGV[5], 'EX', ARGV[6])
  elseif prior ~= ARGV[5] then return {'replayed', ''} end
end
local seen = redis.call('GET', KEYS[1])
if seen then return {'seen', seen, redis.call('GET', KEYS[5]) or ''} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'locked', ''} end
local sent = redis.call('INCR', KEYS[4])
if sent == 1 then redis.call('EXPIRE', KEYS[4], 120) end
if sent > tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[2])
  return {'limited', tostring(sent - tonumber(ARGV[4])), redis.call('GET', KEYS[5]) or ''}
end
redis.call('SET', KEYS[1], '', 'EX', ARGV[3])
return {'ok', redis.call('GET', KEYS[3]) or '', redis.call('GET', KEYS[5]) or ''}
"""

FINISH = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3]) end
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
if ARGV[8] ~= '' then redis.call('SET', KEYS[5], ARGV[8], 'EX', ARGV[7]) end
redis.call('DEL', KEYS[2])
return 1
"""

ABANDON = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[1]) == '' then redis.call('DEL', KEYS[1]) end
return 1
"""

LOCK_MS = 10_000          # longer than any message takes; a crashed process frees it by expiry
SEEN_TTL = 600            # WeChat retries within about 15 s; Alipay's retries spread wider
WINDOW_TTL = 48 * 3600    # customer-service messages are allowed for 48 h after the user's last message
LINGER = 6 * 3600         # a timed-out state is kept this long to say "timed out" rather than nothing


class Busy(Exception):
    """Another message of this user is still being handled after waiting."""


class Replayed(Exception):
    """A channel's signed timestamp and nonce came again with another body: not the platform."""


class Begun:
    def __init__(self, status: str, value: str, token: str, language: str = ""):
        # language: the copy begin() read ('' when there is none: the database has it)
        self.status, self.value, self.token, self.language = status, value, token, language


class ConversationStore:
    def __init__(self, redis, vault: Vault, timeout: int, prefix: str = "chat", rate_per_min: int = 30):
        self.redis = redis
        self.rate_per_min = rate_per_min
        self.vault = vault
        self.timeout = timeout
        self.prefix = prefix
        from bot.infra.redis.scripts import FastScripts

        fast = FastScripts(redis)
        self._begin = fast.script(BEGIN)
        self._finish = fast.script(FINISH)
        self._abandon = fast.script(ABANDON)

    def keys(self, conversation: str, dedupe: str) -> list[str]:
        p = self.prefix
        return [f"{p}:seen:{conversation}:{dedupe}", f"{p}:lock:{conversation}", f"{p}:state:{conversation}",
                f"{p}:last:{conversation}", f"{p}:lang:{conversation}"]

    def begin(self, conversation: str, dedupe: str, wait: float = 3.0, replay: tuple[str, str, int] | None = None) -> Begun:
        """('ok', state) with the lock held; ('seen', answer) for a retry ('' while the first is
        still being handled); ('limited', how many over) past the user's messages per minute.
        `replay`: the channel's (signed timestamp + nonce, body digest, seconds to remember it);
        the same key with another digest raises Replayed (the same digest is a retry).
        Raises Busy when the user's lock stays taken for `wait` seconds."""
        seen, lock, state, _, lang = self.keys(conversation, dedupe)
        rate = f"{self.prefix}:rate:{conversation}:{int(time.time() // 60)}"
        token = secrets.token_hex(8)
        keys, args = [seen, lock, state, rate, lang], [token, LOCK_MS, SEEN_TTL, self.rate_per_min]
        if replay is not None:
            keys.append(f"{self.prefix}:nonce:{replay[0]}")
            args += [replay[1], replay[2]]
        deadline = time.monotonic() + wait
        delay = 0.005
        while True:
            reply = self._begin(keys, args)
            status, value = reply[0].decode(), reply[1].decode()
            if status == "replayed":
                raise Replayed(conversation)
            if status != "locked":
                return Begun(status, value, token, reply[2].decode() if len(reply) > 2 else "")
            if time.monotonic() >= deadline:
                raise Busy(conversation)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def wait_answer(self, conversation: str, dedupe: str, wait: float) -> str:
        """A retry of a message still being handled: wait for its answer ('' if not in time)."""
        seen = self.keys(conversation, dedupe)[0]
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            value = self.redis.get(seen)
            if value:
                return self.opened(value.decode())
            time.sleep(0.02)
        return ""

    def opened(self, sealed: str) -> str:
        """A remembered answer (sealed: its texts hold code page links), '' if it cannot be read."""
        try:
            return self.vault.decrypt(sealed, "conversation.answer") if sealed else ""
        except (DecryptError, ValueError):
            return ""

    def load(self, raw: str) -> dict | None:
        """The saved state; one that cannot be read (a key no longer configured, a damaged
        value) counts as none, so the user starts afresh instead of being stuck."""
        if not raw:
            return None
        try:
            state = json.loads(self.vault.decrypt(raw, "conversation"))
        except (DecryptError, ValueError) as exc:
            log.warning("a conversation state could not be read (%s); starting afresh", exc.__class__.__name__)
            return None
        return state if isinstance(state, dict) else None

    def peek(self, conversation: str) -> dict | None:
        """The saved state, read without taking the lock (a page showing where a flow stands)."""
        raw = self.redis.get(self.keys(conversation, "")[2])
        return self.load(raw.decode() if isinstance(raw, bytes) else raw)

    def finish(self, conversation: str, dedupe: str, token: str, state: dict | None, answer: str,
               wait: bool = True, language: str = "") -> bool | None:
        """Save; with wait=False the write is sent and not waited for (None): Redis runs it before
        any later command, so a retry or the user's next message sees it. `language`: the user's,
        to keep with the state ('' leaves the copy as it is)."""
        seen, lock, key, last, lang = self.keys(conversation, dedupe)
        stored = "" if state is None else self.vault.encrypt(json.dumps(state, ensure_ascii=False), "conversation")
        answer = self.vault.encrypt(answer, "conversation.answer")  # like the state: links in it are keys
        args = [token, stored, self.timeout + LINGER, answer, SEEN_TTL, int(time.time()), WINDOW_TTL, language]
        if not wait:
            return self._finish.nowait([seen, lock, key, last, lang], args)
        return bool(self._finish([seen, lock, key, last, lang], args))

    def abandon(self, conversation: str, dedupe: str, token: str) -> None:
        """Handling failed: free the lock and forget the message, so a retry is handled afresh."""
        seen, lock = self.keys(conversation, dedupe)[:2]
        self._abandon([seen, lock], [token])
