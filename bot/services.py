"""What a process needs to do work: settings, the PII vault, the database, Redis, the queues.

The web app (create_app) and the RQ worker each build one Services from the settings; nothing
here runs at import time.
"""
from __future__ import annotations

from functools import cached_property

from bot.infra.db import Database
from bot.infra.pii import Vault
from bot.infra.redis.handle import RedisHandle
from bot.settings import Settings, load_settings

QUEUE_NAMES = ("high", "default", "low")  # a worker listens on them in this order


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.vault = Vault(settings.pii_key, settings.pii_old_keys)
        pool = {} if settings.sqlalchemy_url.startswith("sqlite") else {
            "pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow,
            "statement_timeout": settings.db_statement_timeout}
        self.db = Database(settings.sqlalchemy_url, self.vault, **pool)
        self.redis = RedisHandle(settings.redis_url, settings.var_dir, settings.redis_ca_file,
                                 sentinels=settings.redis_sentinels, master=settings.redis_sentinel_master)
        from bot.infra import after_commit, outbox

        after_commit.install(self.db.sessionmaker, self)
        outbox.install(self)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Services":
        return cls(load_settings(env))

    @property
    def policy(self):
        """The region policy, compiled (and re-read if its file changes)."""
        from bot.domain.rules.loading import load_policy

        return load_policy(self.settings.region_policy)

    @property
    def metadata(self):
        """The whole schema (the models), for migrations."""
        from bot.domain.models import Base

        return Base.metadata

    def queue(self, name: str = "default"):
        return self.queues[name]

    @cached_property
    def queues(self):
        from rq import Queue

        conn = self.redis.client()
        return {name: Queue(name, connection=conn) for name in QUEUE_NAMES}

    @cached_property
    def fast_redis(self):
        from bot.infra.redis.scripts import FastScripts

        return FastScripts(self.redis.client())

    @cached_property
    def code_images(self):
        from bot.infra.images.code_image import CodeImages

        from bot.domain.keys import keyring

        return CodeImages(self.settings, self.redis.client(), signer=lambda: keyring(self.db)[0])

    def close(self):
        self.db.dispose()
        self.redis.close()
