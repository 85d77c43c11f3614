"""Issue 19: the settings for more than one machine. Redis through Sentinels (a real primary,
replica and Sentinel: the app rides out a failover with no restart), PostgreSQL's pool and
statement time-out, and the settings' refusals."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from bot.infra.config import ROOT, ConfigError
from bot.settings import load_settings
from tests.support.chat import CLEAN, REGISTRATION, Chat

REDIS = shutil.which("redis-server")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sentinel_settings(tmp_path):
    base = {"VAR_DIR": str(tmp_path), "APP_ENV": "production", "DATABASE_URL": "postgresql://h/db",
            "SECRET_KEY": "s" * 32, "PII_KEY": "A" * 43 + "=", "PUBLIC_BASE_URL": "https://hc.example.cn"}
    settings = load_settings({**base, "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "hc"})
    assert settings.redis_sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379))  # REDIS_URL not needed then
    from bot.infra.redis.handle import RedisHandle

    handle = RedisHandle(None, tmp_path, sentinels=settings.redis_sentinels, master="hc")
    assert handle.url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/hc"  # what flask-limiter is given
    with pytest.raises(ConfigError, match="REDIS_SENTINELS"):
        load_settings({**base, "REDIS_SENTINELS": "10.0.0.1", "REDIS_URL": "redis://x"})
    with pytest.raises(ConfigError, match="not both"):
        load_settings({**base, "REDIS_SENTINELS": "10.0.0.1:26379", "REDIS_URL": "redis://x"})
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings(base)
    with pytest.raises(ConfigError, match="DB_POOL_SIZE"):
        load_settings({**base, "REDIS_URL": "redis://x", "DB_POOL_SIZE": "0"})


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL's (TEST_DATABASE_URL)")
def test_a_statement_past_the_timeout_is_cancelled_and_the_schema_kept(pg_schema_url):
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from bot.infra.db import Database
    from bot.infra.pii import Vault

    db = Database(pg_schema_url.replace("postgresql://", "postgresql+psycopg://", 1), Vault(b"k" * 32),
                  statement_timeout=200, pool_size=2, max_overflow=1)
    try:
        with db.engine.connect() as conn:
            path = conn.execute(text("SHOW search_path")).scalar()
            assert pg_schema_url.rsplit("%3D", 1)[1] in path  # the URL's own options are kept
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "200ms"
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(2)"))
        assert db.engine.pool.size() == 2
    finally:
        db.dispose()


class RedisGroup:
    """A primary, a replica and one Sentinel (quorum 1), each in its own process group."""

    def __init__(self, root):
        self.root, self.procs = root, {}
        self.primary, self.replica, self.sentinel = _port(), _port(), _port()

    def _start(self, name, *args):
        (self.root / name).mkdir()
        self.procs[name] = subprocess.Popen([REDIS, *args, "--dir", str(self.root / name)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)

    def start(self):
        common = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
        self._start("primary", "--port", str(self.primary), *common)
        self._start("replica", "--port", str(self.replica), *common, "--replicaof", "127.0.0.1", str(self.primary))
        (self.root / "sentinel").mkdir()
        (self.root / "sentinel" / "s.conf").write_text(
            f"port {self.sentinel}\nbind 127.0.0.1\ndir {self.root / 'sentinel'}\n"
            f"sentinel monitor healthcode 127.0.0.1 {self.primary} 1\n"
            "sentinel down-after-milliseconds healthcode 1000\nsentinel failover-timeout healthcode 5000\n")
        self.procs["sentinel"] = subprocess.Popen([REDIS, str(self.root / "sentinel" / "s.conf"), "--sentinel"],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                  start_new_session=True)
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                info = redis.Redis(port=self.replica).info("replication")
                sentinel = redis.Redis(port=self.sentinel).execute_command("SENTINEL", "REPLICAS", "healthcode")
                if info.get("master_link_status") == "up" and sentinel:
                    return self
            except redis.RedisError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the Redis group did not come up")

    def kill(self, name):
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.mark.skipif(not REDIS, reason="Debian redis-server is not installed (.ci/run installs it)")
def test_the_chat_rides_out_a_failover_with_no_restart(make_app, tmp_path):
    group = RedisGroup(tmp_path).start()
    try:
        app, svc = make_app(REDIS_URL="", REDIS_SENTINELS=f"127.0.0.1:{group.sentinel}",
                            REDIS_SENTINEL_MASTER="healthcode")
        chat = Chat(app, user="o-failover")
        assert "请输入您的姓名" in chat.run(*REGISTRATION[:1])
        chat.run(*REGISTRATION[1:], *CLEAN[:2])
        group.kill("primary")
        answers, started = [], time.monotonic()
        while time.monotonic() - started < 30:
            reply = chat.say(CLEAN[2])
            answers.append(reply)
            if "系统繁忙" not in reply:
                break
            time.sleep(0.3)
        assert "系统繁忙" not in answers[-1], "still busy 30 s after the primary died"
        took = time.monotonic() - started
        # the conversation goes on where it was, on the promoted replica, and the declaration is stored
        done = chat.run(*CLEAN[3:], "1")
        assert "申报成功" in done, done
        assert svc.redis.client().connection_pool.get_master_address()[1] == group.replica
        assert took < 15
    finally:
        group.stop()


def test_worker_processes_run_their_jobs_and_stop_together(env, services, tmp_path):
    """python -m workers --processes 2: two workers, each its own process, doing the outbox's
    jobs; a SIGTERM to the launcher stops both (and a worker killed outright is started again)."""
    import psutil

    from bot.infra import outbox
    from tests.support.workers import group_alive, wait_for

    proc = subprocess.Popen([sys.executable, "-m", "workers", "--processes", "2"], cwd=ROOT,
                            env={**env, "LOG_LEVEL": "INFO"}, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "workers.log", "ab"), start_new_session=True)
    try:
        def workers():
            alive = []
            for p in psutil.Process(proc.pid).children():
                try:
                    if p.status() != psutil.STATUS_ZOMBIE and "workers" in " ".join(p.cmdline()):
                        alive.append(p)
                except psutil.Error:  # gone (or a zombie) between the listing and the look
                    pass
            return alive

        assert wait_for(lambda: len(workers()) == 2, 30)
        first = {p.pid for p in workers()}
        with services.db.session() as s:
            outbox.add(s, "ledger.record", {"mark": "scaling-mark"})
        from bot.infra.outbox import EffectLedger

        def recorded():
            with services.db.session() as s:
                return s.get(EffectLedger, "scaling-mark") is not None

        assert wait_for(recorded, 30)
        victim = next(iter(first))
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: len(workers()) == 2 and victim not in {p.pid for p in workers()}, 30)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert wait_for(lambda: not group_alive(proc.pid), 15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
