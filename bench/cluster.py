"""`make cluster-test`: the service on several "machines" made of real processes on this one, under a
steady load of simulated WeChat users, while its parts are killed:

- 2 web nodes (gunicorn with config/gunicorn.py, each its own process group) behind HAProxy;
- 2 worker nodes (`python -m workers`);
- a Redis primary, a replica and 3 Sentinels (Debian redis-server; the app finds the master
  through REDIS_SENTINELS);
- PostgreSQL: a database of its own on the CI's server (127.0.0.1:5432, or CLUSTER_PG_URL);
- the platform stub, in this process, receiving the pushes.

The phases: requests/s through HAProxy with one web node and with two; then, under load, the
Redis primary is killed (the Sentinels promote the replica; chat answers "busy" meanwhile and then
goes on with no restart), a web node is killed (HAProxy routes around it), a worker is killed while
its pushes are in flight (the other finishes them). At the end every confirmed declaration must be
in the database and every notice delivered exactly once. The figures go to var/cluster.json; the
exit status is 1 when a check fails. Everything started is stopped, whatever happens.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

from bench.cluster_parts import Processes, Redis, database, drop_database, sizes, wait_http
from bench.webhook import free_port
from bot.infra.config import ROOT

VAR = ROOT / "var" / "cluster"
USERS = int(os.environ.get("CLUSTER_USERS", "24"))
PHASE = float(os.environ.get("CLUSTER_PHASE_SECONDS", "12"))
FAILOVER_LIMIT = 15.0
SEND_PATH = "/cgi-bin/message/custom/send"
TOKEN, APPID = "clustertoken", "wxcluster0000001"


def app_env(db_url: str, redis: Redis, stub_url: str, public: str) -> dict:
    """Production settings, with short leases so a killed worker's share is taken over within
    the test. NOTICE_LEASE stays well above the longest a delivery mark can wait on a failover
    (a few seconds): a lease that lapsed while its run was still sending would let a second
    worker send again what the lost primary had marked as sent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_", "WECHAT_", "TEST_"))}
    env.update({
        "APP_ENV": "production", "DATABASE_URL": db_url, "REDIS_SENTINELS": redis.sentinel_list,
        "REDIS_SENTINEL_MASTER": redis.master, "SECRET_KEY": secrets.token_urlsafe(32),
        "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(), "PUBLIC_BASE_URL": public,
        "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_SECRET": "cluster-secret",
        "WECHAT_API_BASE": stub_url, "LOG_LEVEL": "WARNING", "CHAT_RATE_PER_MIN": "100000",
        "OUTBOX_SWEEP_INTERVAL": "1", "OUTBOX_LEASE": "10", "NOTICE_LEASE": "20", "WEB_CONCURRENCY": "2",
        "ACCESS_LOG": "", "PUSH_TIMEOUT": "5"})
    return env


def haproxy_config(path: Path, port: int, webs: list[int], admin: Path) -> None:
    """As deploy/haproxy.cfg: a node that answers /healthz at all is up (a 503 there names a
    shared dependency that is down, and taking every node out would turn the app's own "busy"
    into HAProxy's 503); requests are buffered so one that met a dying node is sent to the
    other (the webhook dedupes by MsgId, so a retry is answered once)."""
    servers = "\n".join(f"    server web{i + 1} 127.0.0.1:{p} check" for i, p in enumerate(webs))
    path.write_text(f"""global
    maxconn 2048
    stats socket {admin} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 5s
    retries 3
    option redispatch
    option http-buffer-request
    retry-on conn-failure empty-response response-timeout
frontend chat
    bind 127.0.0.1:{port}
    default_backend web
backend web
    balance roundrobin
    option httpchk GET /healthz
    http-check expect rstatus (200|503)
    default-server inter 1s fall 3 rise 2
{servers}
""")


def _interrupted(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")  # `timeout` stops the test: clean up all the same


def main() -> int:
    import signal

    from bot.devtools.platform_stub import PlatformStub

    signal.signal(signal.SIGTERM, _interrupted)
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    started = time.monotonic()
    figures: dict = {"users": USERS}
    checks: dict[str, bool] = {}
    procs = Processes(VAR / "logs")
    db_url = None
    try:
        with PlatformStub() as stub:
            redis = Redis(procs, VAR / "redis").start()
            db_url = database()
            front = free_port()
            env = app_env(db_url, redis, stub.base_url, f"http://127.0.0.1:{front}")
            procs.run("migrate", [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env)
            webs = [free_port(), free_port()]
            for i, port in enumerate(webs, 1):
                procs.start(f"web{i}", [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "wsgi:app"],
                            {**env, "BIND": f"127.0.0.1:{port}", "VAR_DIR": str(VAR / f"web{i}"),
                             "PROMETHEUS_MULTIPROC_DIR": str(_dir(VAR / f"web{i}" / "prom"))})
            for i in (1, 2):
                procs.start(f"worker{i}", [sys.executable, "-m", "workers"],
                            {**env, "VAR_DIR": str(VAR / f"worker{i}")})
            for port in webs:
                wait_http(f"http://127.0.0.1:{port}/healthz", 60)
            admin = VAR / "haproxy.sock"
            haproxy_config(VAR / "haproxy.cfg", front, webs, admin)
            procs.start("haproxy", ["haproxy", "-f", str(VAR / "haproxy.cfg"), "-db"], env)
            wait_http(f"http://127.0.0.1:{front}/healthz", 20)
            from bench.cluster_load import Load, throughput

            base = f"http://127.0.0.1:{front}"
            figures.update(throughput(base, admin, procs, TOKEN, APPID, VAR))
            load = Load(base, TOKEN, APPID, USERS)
            load.start()
            time.sleep(PHASE)
            # -- 1. the Redis primary dies ------------------------------------------------------
            killed = time.monotonic()
            old = redis.master_port()
            procs.kill("redis-primary")
            promoted = redis.wait_promoted(old, 30)
            figures["sentinel_promotion_s"] = round(promoted - killed, 2) if promoted else None
            time.sleep(PHASE)
            busy = load.busy_times()
            after = [t for t in busy if t >= killed]
            # the first answer the promoted replica gave after some "busy" ones, and the last
            # "busy" (a conversation whose message was in hand at the kill: its lock, replicated
            # before the primary died, holds until it expires)
            recovered = load.first_answer_after(max(after[0] if after else killed, promoted or killed))
            figures["chat_recovered_s"] = round(recovered - killed, 2) if recovered else None
            figures["failover_s"] = round(max(after) - killed, 2) if after else 0.0
            figures["answered_busy"] = len(after)
            checks["failover_under_15_s"] = promoted is not None and figures["failover_s"] < FAILOVER_LIMIT
            # -- 2. a web node dies ------------------------------------------------------------
            failed_before = load.failed_requests()
            procs.kill("web1")
            time.sleep(PHASE)
            figures["requests_lost_web_kill"] = load.failed_requests() - failed_before
            checks["web_kill_lost_only_in_flight"] = figures["requests_lost_web_kill"] <= USERS
            # -- 3. a worker dies with pushes in flight -----------------------------------------
            stub.state.faults.append({"path": SEND_PATH, "delay": 1.5, "times": 20})
            deadline = time.monotonic() + 10
            while stub.state.in_flight == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            figures["pushes_in_flight_at_kill"] = stub.state.in_flight
            procs.kill("worker1")
            time.sleep(PHASE)
            load.stop()
            figures.update(load.figures())
            figures.update(_final(db_url, stub, timeout=90))
            checks["declarations_lost_0"] = figures["declarations_lost"] == 0 and figures["declarations_confirmed"] > 0
            checks["notices_exactly_once"] = figures["notices_doubled"] == 0 and figures["notices_lost"] == 0
            figures["machine_us_per_message"] = procs.cpu_us_per(load.answered)
            figures.update(sizes(db_url, redis.master_port()))
    except Exception as exc:
        figures["error"] = f"{type(exc).__name__}: {exc}"
        checks["ran"] = False
    finally:
        procs.stop_all()
        if db_url:
            try:
                drop_database(db_url)
            except Exception as exc:  # the figures matter more than the clean-up
                print(f"the cluster database was not dropped: {exc}", file=sys.stderr)
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["checks"] = checks
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "cluster.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    ok = bool(checks) and all(checks.values())
    print("cluster test " + ("passed" if ok else "FAILED"), file=sys.stderr)
    return 0 if ok else 1


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _final(db_url: str, stub, timeout: float) -> dict:
    """Once every notice is settled: declarations stored against those confirmed in chat, and
    each user's pushes received by the platform against the notices delivered to them."""
    import psycopg

    from bench.cluster_load import CONFIRMED

    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while True:
            pending = conn.execute("SELECT count(*) FROM notices WHERE status IN ('pending', 'sending')").fetchone()[0]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        stored = dict(conn.execute(
            "SELECT ci.external_id, count(d.id) FROM declarations d JOIN channel_identities ci "
            "ON ci.person_id = d.person_id WHERE ci.channel = 'wechat' GROUP BY ci.external_id").fetchall())
        delivered = dict(conn.execute(
            "SELECT ci.external_id, count(n.id) FROM notices n JOIN channel_identities ci ON ci.id = n.identity_id "
            "WHERE n.status = 'delivered' GROUP BY ci.external_id").fetchall())
        undeliverable = conn.execute("SELECT count(*) FROM notices WHERE status = 'undeliverable'").fetchone()[0]
    received: dict[str, int] = {}
    for m in list(stub.state.messages):
        received[m.get("touser", "")] = received.get(m.get("touser", ""), 0) + 1
    lost = sum(max(0, n - stored.get(u, 0)) for u, n in CONFIRMED.items())
    users = set(received) | set(delivered)
    def seen(m: dict) -> dict:
        return {**{k: m.get(k) for k in ("seq", "at", "api", "msgtype")}, "text": str(m.get("text", ""))[:80]}

    odd = {u: {"received": [seen(m) for m in stub.state.messages if m.get("touser") == u],
               "delivered": delivered.get(u, 0)}
           for u in users if received.get(u, 0) != delivered.get(u, 0)}
    if odd:  # what to look at when the counts differ
        (VAR / "mismatched.json").write_text(json.dumps(odd, indent=1, ensure_ascii=False, default=str))
    doubled = sum(max(0, received.get(u, 0) - delivered.get(u, 0)) for u in users)
    missing = sum(max(0, delivered.get(u, 0) - received.get(u, 0)) for u in users)
    return {"declarations_confirmed": sum(CONFIRMED.values()), "declarations_stored": sum(stored.values()),
            "declarations_lost": lost, "notices_delivered": sum(delivered.values()),
            "notices_received": sum(received.values()), "notices_doubled": doubled,
            "notices_lost": missing + pending + undeliverable, "notices_pending_at_end": pending}


if __name__ == "__main__":
    sys.exit(main())
