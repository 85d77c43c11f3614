"""The one Redis client factory (chat, RQ, limits, caches): REDIS_URL (redis://, rediss:// with
REDIS_CA_FILE, unix://), or REDIS_SENTINELS with REDIS_SENTINEL_MASTER through redis-py's
Sentinel support, or else the embedded server under var/ (started on first use).

With Sentinels, a connection asks them where the master is; after a failover a broken or
read-only connection is dropped and the next one finds the new master. A command that meets
a broken connection is tried again twice, a little later each time (the failover's window),
so a worker rides a failover out; the webhook's hot path has its own reconnect (scripts.py)
and answers "busy" rather than wait past its deadline."""
from __future__ import annotations

import threading
from pathlib import Path

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from bot.infra.redis.embedded import EmbeddedRedis

# Short time-outs: a webhook must still answer within 5 s when Redis is gone (quality.md).
CLIENT_OPTIONS = dict(socket_timeout=2, socket_connect_timeout=2, health_check_interval=30, retry_on_timeout=False)
SENTINEL_OPTIONS = dict(socket_timeout=0.5, socket_connect_timeout=0.5)  # a Sentinel answers at once or is down


def _failover_retry() -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.1), 2, supported_errors=(ConnectionError, TimeoutError))


class RedisHandle:
    """Connects lazily, so commands that never touch Redis (db upgrade, policy eval) never start it."""

    def __init__(self, url: str | None, var_dir: Path, ca_file: str | None = None, sentinels=(),
                 master: str = "healthcode"):
        self.redis_url, self.var_dir, self.ca_file = url, var_dir, ca_file
        self.sentinels, self.master = tuple(sentinels), master
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        self.embedded: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        """The same Redis as a URL, for the libraries that take one (flask-limiter)."""
        if self.sentinels:
            return "redis+sentinel://" + ",".join(f"{h}:{p}" for h, p in self.sentinels) + "/" + self.master
        if self.redis_url:
            return self.redis_url
        return EmbeddedRedis(self.var_dir).url

    def client(self) -> redis.Redis:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if self.sentinels:
                        sentinel = Sentinel(list(self.sentinels), sentinel_kwargs=SENTINEL_OPTIONS,
                                            **SENTINEL_OPTIONS)
                        self._client = sentinel.master_for(self.master, **CLIENT_OPTIONS, retry=_failover_retry())
                    elif self.redis_url:
                        tls = {"ssl_ca_certs": self.ca_file} if self.ca_file and self.redis_url.startswith("rediss:") else {}
                        self._client = redis.Redis.from_url(self.redis_url, **CLIENT_OPTIONS, **tls)
                    else:
                        self.embedded = EmbeddedRedis(self.var_dir)
                        self.embedded.ensure()
                        self._client = redis.Redis(unix_socket_path=str(self.embedded.socket), **CLIENT_OPTIONS)
        return self._client

    def forget(self) -> None:
        """After a fork: drop the client without closing the parent's sockets; reconnect lazily."""
        self._client = None

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
