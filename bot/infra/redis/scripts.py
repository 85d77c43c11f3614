"""The hot path's Redis calls (the webhook's two scripts, the push workers' delivery marks) through
redis-py's own Connection objects, one held per thread, used with send_command / read_response.

Why not `Redis.evalsha`: the client's command machinery costs about twice the CPU of the round
trip itself (measured here: 70-93 µs per EVALSHA through `Redis.evalsha`, 37-43 µs through a
held Connection, 37-40 µs for the hand-written socket client this replaces). A Connection made by
the client's own pool keeps everything the client is configured with: TLS (rediss://), ACL users,
the database, unix sockets, Sentinel-managed masters.

A call may be sent without waiting for its reply (`nowait`): the reply is read (an error logged)
before the next command on that connection, so a request waits for one round trip, not two.

A stale connection (Redis restarted, a failover) reconnects: a command that fails to go out, or
whose connection breaks while replies are still owed, is sent again on a fresh connection with
the commands sent before it that were not yet answered. The commands sent this way are
idempotent (a SET, a script fenced by its token), so sending one twice is harmless, while
losing one is not: a push's "sent" mark lost after a restart made a notice go out twice.
"""
from __future__ import annotations

import hashlib
import logging
import threading

try:  # the packer redis-py itself uses when hiredis is installed (requirements.txt has it)
    from hiredis import pack_command
except ImportError:  # pragma: no cover - redis-py's own, slower
    pack_command = None
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

log = logging.getLogger("bot.redis")
MAX_UNREAD = 256  # replies left unread on a connection before they are read (Redis buffers them)
BROKEN = (RedisConnectionError, RedisTimeout, OSError)


class _Held:
    """One thread's connection and the commands sent on it whose replies are still owed."""

    __slots__ = ("conn", "unread")

    def __init__(self, conn):
        self.conn = conn
        self.unread: list[tuple] = []


class FastScripts:
    def __init__(self, client):
        self.pool = client.connection_pool
        self._local = threading.local()
        self._scripts: list[str] = []

    def script(self, text: str):
        sha = hashlib.sha1(text.encode()).hexdigest()
        self._scripts.append(text)

        def call(keys, args):
            try:
                return self._call(("EVALSHA", sha, len(keys), *keys, *args))
            except ResponseError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                return self._call(("EVAL", text, len(keys), *keys, *args))

        def nowait(keys, args):
            self._call(("EVALSHA", sha, len(keys), *keys, *args), wait=False)

        call.nowait = nowait
        return call

    def send(self, *args) -> None:
        """A plain command, not waited for. Once sent it is in Redis' socket buffer: a process
        killed right after cannot take it back (delivery marks rely on that)."""
        self._call(args, wait=False)

    # -- the connection --------------------------------------------------------------------------

    def _held(self) -> _Held:
        held = getattr(self._local, "held", None)
        if held is None:
            conn = self.pool.make_connection()  # the client's settings: TLS, ACL, db, Sentinel
            try:
                conn.connect()
                for text in self._scripts:  # loaded up front: a reply nobody waits for cannot be NOSCRIPT
                    conn.send_command("SCRIPT", "LOAD", text, check_health=False)
                    conn.read_response()
            except BROKEN:
                conn.disconnect()
                raise
            held = self._local.held = _Held(conn)
        return held

    def _call(self, args: tuple, wait: bool = True):
        """Send (and unless nowait, read the reply of) one command. When the connection proves
        stale, the commands owed are sent again on a fresh one, and so is this one if it had not
        gone out (one that went out and lost its reply is not repeated: the caller sees the error)."""
        for attempt in (1, 2):
            held, sent = self._held(), False
            try:
                if wait:
                    self._read_unread(held)
                self._send(held, args)
                sent = True
                if not wait:
                    held.unread.append(args)
                    if len(held.unread) > MAX_UNREAD:  # a connection used only for sends: read what piled up
                        self._read_unread(held, keep=1)
                    return None
                return held.conn.read_response()
            except BROKEN as exc:
                owed = list(held.unread)
                self.close()
                resent = self._resend(owed)
                if attempt == 2 or not resent or (wait and sent):
                    raise _as_redis_error(exc) from exc
        return None

    @staticmethod
    def _send(held: _Held, args: tuple) -> None:
        # hiredis' packer straight: redis-py's wrapper around it checks and converts every
        # argument again (7 µs of a 39 µs EVALSHA). No health PING: it would read a reply still owed.
        conn = held.conn
        conn.send_packed_command([pack_command(args)] if pack_command else conn.pack_command(*args),
                                 check_health=False)

    def _resend(self, owed: list[tuple]) -> bool:
        """Send again what a broken connection may have lost, and read the replies."""
        if not owed:
            return True
        try:
            held = self._held()
            for args in owed:
                self._send(held, args)
            held.unread.extend(owed)
            self._read_unread(held)
            return True
        except BROKEN:
            self.close()
            return False

    @staticmethod
    def _read_unread(held: _Held, keep: int = 0) -> None:
        """The replies of commands sent without waiting, all but the last `keep`."""
        while len(held.unread) > keep:
            try:
                held.conn.read_response()
            except ResponseError as exc:
                log.error("a Redis command sent without waiting failed: %s", exc)
            held.unread.pop(0)

    def close(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held.conn.disconnect()


def _as_redis_error(exc: Exception) -> Exception:
    if isinstance(exc, (RedisConnectionError, RedisTimeout)):
        return exc
    return RedisConnectionError(str(exc) or exc.__class__.__name__)
