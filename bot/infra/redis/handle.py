"""The Redis connection: REDIS_URL, or else the embedded server under var/ (started on first use)."""
from __future__ import annotations

import threading
from pathlib import Path

import redis

from bot.infra.redis.embedded import EmbeddedRedis

# Short time-outs: a webhook must still answer within 5 s when Redis is gone (quality.md).
CLIENT_OPTIONS = dict(socket_timeout=2, socket_connect_timeout=2, health_check_interval=30, retry_on_timeout=False)


class RedisHandle:
    """Connects lazily, so commands that never touch Redis (db upgrade, policy eval) never start it."""

    def __init__(self, url: str | None, var_dir: Path, ca_file: str | None = None):
        self.redis_url, self.var_dir, self.ca_file = url, var_dir, ca_file
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        self.embedded: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return EmbeddedRedis(self.var_dir).url

    def client(self) -> redis.Redis:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if self.redis_url:
                        tls = {"ssl_ca_certs": self.ca_file} if self.ca_file and self.redis_url.startswith("rediss:") else {}
                        self._client = redis.Redis.from_url(self.redis_url, **CLIENT_OPTIONS, **tls)
                    else:
                        self.embedded = EmbeddedRedis(self.var_dir)
                        self.embedded.ensure()
                        self._client = redis.Redis(unix_socket_path=str(self.embedded.socket), **CLIENT_OPTIONS)
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
