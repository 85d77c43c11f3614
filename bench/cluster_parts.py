"""The cluster test's parts (bench/cluster.py): processes in process groups of their own, all
stopped at the end; the Redis primary, replica and Sentinels; the PostgreSQL database."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.webhook import free_port
from bot.infra.config import ROOT

MASTER = "healthcode"


def wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {seconds:.0f} s")
            time.sleep(0.2)


class Processes:
    """Each started in a process group of its own (killing a web node kills its gunicorn workers
    too); every group is stopped by stop_all, which the test runs whatever happens."""

    def __init__(self, logs: Path):
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.cpu_start: float | None = None

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        from bot.infra.process import die_with_parent

        # a group of its own (killing a node kills all of it), told to stop if this test dies
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)
        self.procs[name] = proc
        return proc

    def run(self, name: str, args: list[str], env: dict) -> None:
        with open(self.logs / f"{name}.log", "ab") as log:
            subprocess.run(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)

    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():  # the group too: a child that outlived its leader
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(timeout=5)

    def cpu_seconds(self) -> float:
        """User + system time of every process of every group so far (children included)."""
        import psutil

        total = 0.0
        for proc in self.procs.values():
            try:
                top = psutil.Process(proc.pid)
                for p in [top, *top.children(recursive=True)]:
                    t = p.cpu_times()
                    total += t.user + t.system
            except psutil.Error:
                continue
        return total

    def mark_cpu(self) -> None:
        self.cpu_start = self.cpu_seconds()

    def cpu_us_per(self, messages: int) -> float | None:
        if not messages or self.cpu_start is None:
            return None
        return round((self.cpu_seconds() - self.cpu_start) / messages * 1e6)


class Redis:
    """A primary, a replica and three Sentinels (quorum 2), as deploy/ has them."""

    def __init__(self, procs: Processes, root: Path):
        self.procs, self.root, self.master = procs, root, MASTER
        self.primary, self.replica = free_port(), free_port()
        self.sentinels = [free_port() for _ in range(3)]
        self.sentinel_list = ",".join(f"127.0.0.1:{p}" for p in self.sentinels)

    def start(self) -> "Redis":
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        for name, port, extra in (("redis-primary", self.primary, []),
                                  ("redis-replica", self.replica, ["--replicaof", "127.0.0.1", str(self.primary)])):
            d = self.root / name
            d.mkdir(parents=True)
            self.procs.start(name, ["redis-server", "--port", str(port), *common, "--dir", str(d), *extra], os.environ)
        for i, port in enumerate(self.sentinels, 1):
            d = self.root / f"sentinel{i}"
            d.mkdir(parents=True)
            (d / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\ndir {d}\nsentinel monitor {MASTER} 127.0.0.1 {self.primary} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\nsentinel failover-timeout {MASTER} 5000\n"
                f"sentinel parallel-syncs {MASTER} 1\n")
            self.procs.start(f"sentinel{i}", ["redis-server", str(d / "sentinel.conf"), "--sentinel"], os.environ)
        self._wait_ready(30)
        return self

    def _wait_ready(self, seconds: float) -> None:
        import redis

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                up = redis.Redis(port=self.replica).info("replication").get("master_link_status") == "up"
                known = all(redis.Redis(port=p).execute_command("SENTINEL", "REPLICAS", MASTER)
                            for p in self.sentinels)
                if up and known:
                    return
            except redis.RedisError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the Redis primary, replica and Sentinels did not come up")

    def master_port(self) -> int | None:
        import redis

        for port in self.sentinels:
            try:
                addr = redis.Redis(port=port, socket_timeout=0.5).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
                return int(addr[1])
            except (redis.RedisError, TypeError, IndexError):
                continue
        return None

    def wait_promoted(self, old: int, seconds: float) -> float | None:
        """When the Sentinels named another master (monotonic time), or None."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            port = self.master_port()
            if port is not None and port != old:
                return time.monotonic()
            time.sleep(0.1)
        return None


SERVER = os.environ.get("CLUSTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database() -> str:
    """A database of its own on CLUSTER_PG_URL or the CI's server (two runs at once do not meet)."""
    import psycopg

    name = f"healthcode_cluster_{os.getpid()}"
    with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return SERVER.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def sizes(db_url: str, redis_port: int | None) -> dict:
    """What a person and a conversation cost in storage, from what the run left behind: bytes
    per row of the main tables (PostgreSQL, tables with their indexes and TOAST), and bytes
    per key of a conversation's Redis keys (MEMORY USAGE, a sample)."""
    import psycopg
    import redis

    out: dict = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        for table in ("people", "channel_identities", "codes", "code_history", "declarations", "notices",
                      "audit_log"):
            # a few rows fill whole 8 KB pages: the row's own size (tuple, its header and line
            # pointer) and about 40 bytes per index entry say more than the table's size
            row = conn.execute(f"SELECT avg(pg_column_size(t.*)) FROM {table} t").fetchone()[0]
            indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", (table,)).fetchone()[0]
            out[f"pg_bytes_per_{table}_row"] = round(float(row) + 28 + 40 * indexes) if row else None
    if redis_port is not None:
        r = redis.Redis(port=redis_port)
        for kind in ("state", "last", "seen"):
            keys = [k for _, k in zip(range(300), r.scan_iter(match=f"chat:{kind}:*", count=1000))]
            used = [r.memory_usage(k) or 0 for k in keys]
            out[f"redis_bytes_per_{kind}_key"] = round(sum(used) / len(used)) if used else None
    return out
