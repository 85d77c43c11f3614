"""Webhook throughput and latency under gunicorn on loopback, measured with wrk (32 connections)
against a bare Flask endpoint that only parses the same XML (bench/bare_app.py), same settings.

- mid-flow text messages: each user sits in the declaration's health questions and alternates
  an answer and 返回, so every request checks the signature, parses, dedupes, reads and writes
  the conversation state and renders a reply; plain mode, then safe (AES) mode;
- the confirm step: each request submits one whole declaration (registration, database write,
  rules, audit), users seeded at the summary.
Every request has its own MsgId (no dedupe hits) and is checked for a 200.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from bench import pg_schema, pg_url, workspace
from bot.infra import migrate
from bot.chat.conversation.store import ConversationStore
from bot.devtools.devchat import WeChatSimulator, _sign
from bot.domain.idcard import check_digit
from bot.services import Services
from bot.infra.config import ROOT

CONNECTIONS = 32
THREADS = 2
WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
SECONDS = int(os.environ.get("BENCH_WEBHOOK_SECONDS", "10"))
MID_USERS = 3000           # per round; a user's next message comes thousands of requests later
MID_ROUNDS = 8
CONFIRM_USERS = 12000
TOKEN, AES_KEY, APPID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"


def run():
    if not shutil.which("wrk"):
        print("bench.webhook skipped: it needs wrk (Debian package: apt-get install wrk)", file=sys.stderr)
        return []
    import psutil
    from redis import Redis

    with workspace("webhook") as (var, redis_url):
        env = {**os.environ, "APP_ENV": "test", "VAR_DIR": str(var), "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{var / 'bench.db'}", "SECRET_KEY": secrets.token_urlsafe(32),
               "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(), "WECHAT_TOKEN": TOKEN,
               "WECHAT_APPID": APPID, "WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_ALLOW_PLAIN": "on",  # plain and safe rounds
               "PROMETHEUS_MULTIPROC_DIR": str(var / "prom")}
        env.pop("TEST_DATABASE_URL", None)
        (var / "prom").mkdir()
        svc = Services.from_env(env)
        migrate.upgrade(svc)
        svc.redis.client().flushdb()
        files = prepare(svc, var)
        svc.close()

        with gunicorn("bench.bare_app:app", env) as (bare_port, bare_master), \
                gunicorn("wsgi:app", env) as (port, master):
            run_wrk(bare_port, files["warm"], 2)
            run_wrk(port, files["warm"], 2)
            # machine time: the CPU of the server's workers, and of Redis for the webhook
            redis_server = psutil.Process(Redis.from_url(redis_url).info()["process_id"])
            bare_procs, procs = bare_master.children(), [*master.children(), redis_server]
            # the baseline, plain and safe mode take turns, half the time each round, so that
            # the machine's drift hits all three alike
            rounds = {"bare": [], "plain": [], "safe": []}
            for r in (1, 2):
                rounds["bare"].append(run_wrk(bare_port, files[f"plain{r}"], max(2, SECONDS // 2), bare_procs))
                for mode in ("plain", "safe"):
                    rounds[mode].append(run_wrk(port, files[f"{mode}{r}"], max(2, SECONDS // 2), procs))
            bare, plain, safe = (combine(rounds[k]) for k in ("bare", "plain", "safe"))
            run_wrk(port, files["confirm-warm"], 1)
            confirm = run_wrk(port, files["confirm"], max(3, SECONDS // 2))
            rss = max(p.memory_info().rss for p in master.children()) / 2**20
        confirm_pg = confirm_on_postgresql(env, var)
        svc = Services.from_env(env)
        declared = count_declarations(svc)  # the warm-up's too
        svc.close()

    for name, r in (("bare", bare), ("plain", plain), ("safe", safe), ("confirm", confirm)):
        print(f"webhook {name}: {r['requests']} requests in {r['seconds']:.1f} s = {r['rps']:.0f}/s, "
              f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, non-2xx {r['non_2xx']}, "
              f"socket errors {r['socket_errors']}, wrapped {r['wrapped']}"
              + (f", machine time {r['cpu_us']:.0f} µs per request" if "cpu_us" in r else ""), file=sys.stderr)
    print(f"webhook confirm: {declared} declarations stored for {confirm['requests']} requests", file=sys.stderr)
    ratio = plain["rps"] / bare["rps"]
    overhead = plain["rps"] / safe["rps"] - 1
    clean = all(r["non_2xx"] == 0 and r["socket_errors"] == 0 for r in (bare, plain, safe, confirm))
    return [
        ("webhook_rps", round(plain["rps"]), None, clean),
        ("bare_flask_rps", round(bare["rps"]), None, None),
        ("webhook_ratio_vs_bare", round(ratio, 3), ">= 0.45", ratio >= 0.45),  # quality.md revision 2
        ("webhook_machine_us", round(plain["cpu_us"]), None, None),
        ("bare_machine_us", round(bare["cpu_us"]), None, None),
        ("webhook_p99_ms", round(plain["p99_ms"], 1), "<= 50", plain["p99_ms"] <= 50),
        ("safe_mode_overhead", round(overhead, 3), "<= 0.25", overhead <= 0.25),
        ("confirm_p99_ms", round(confirm["p99_ms"], 1), "<= 100",
         confirm["p99_ms"] <= 100 and declared >= confirm["requests"]),
        ("confirm_rps", round(confirm["rps"]), None, None),
        *([("confirm_pg_p99_ms", round(confirm_pg["p99_ms"], 1), "<= 100",
            confirm_pg["p99_ms"] <= 100 and confirm_pg["declared"] >= confirm_pg["requests"]),
           ("confirm_pg_rps", round(confirm_pg["rps"]), None, None)] if confirm_pg else []),
        ("web_rss_mb", round(rss, 1), "<= 150", rss <= 150),
    ]


def confirm_on_postgresql(env: dict, var) -> dict | None:
    """The confirm step again with the database on PostgreSQL (when a server answers)."""
    url = pg_url()
    if url is None:
        print("webhook confirm on PostgreSQL skipped: no server answers", file=sys.stderr)
        return None
    with pg_schema(url) as schema_url:
        pg_env = {**env, "DATABASE_URL": schema_url}
        svc = Services.from_env(pg_env)
        migrate.upgrade(svc)
        svc.redis.client().flushdb()
        files = prepare(svc, var, confirm_only=True)
        svc.close()
        svc = Services.from_env(pg_env)
        with gunicorn("wsgi:app", pg_env) as (port, _):
            run_wrk(port, files["confirm-warm"], 1)
            warm = count_declarations(svc)
            result = run_wrk(port, files["confirm"], max(3, SECONDS // 2))
        result["declared"] = count_declarations(svc) - warm
        svc.close()
    print(f"webhook confirm (PostgreSQL): {result['requests']} requests = {result['rps']:.0f}/s, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, non-2xx {result['non_2xx']}, "
          f"{result['declared']} declarations stored", file=sys.stderr)
    return result


# -- the requests -------------------------------------------------------------------------------

def prepare(svc, var, confirm_only: bool = False) -> dict:
    """Request files for wrk (one per wrk thread), and the conversation states they need."""
    store = ConversationStore(svc.redis.client(), svc.vault, svc.settings.conversation_timeout)
    cfg = {"token": TOKEN, "appid": APPID, "encoding_aes_key": AES_KEY}
    plain_sim, safe_sim = WeChatSimulator(None, cfg), WeChatSimulator(None, cfg, safe=True)
    now = time.time()
    pipe = svc.redis.client().pipeline(transaction=False)

    def seed(user, state, data, trail=()):
        """A user mid-flow, as the webhook's own finish() leaves one: the state and, written with
        it, the copy of the account's language."""
        conv = {"flow": "declare", "state": state, "data": data, "trail": list(trail), "errors": 0, "at": now}
        _, _, key, _, lang = store.keys(f"wechat:{APPID}:{user}", "")
        pipe.set(key, svc.vault.encrypt(json.dumps(conv, ensure_ascii=False), "conversation"), ex=3600)
        pipe.set(lang, "zh", ex=3600)

    files = {}
    for mode, sim in () if confirm_only else (("warm", plain_sim), ("plain1", plain_sim), ("safe1", safe_sim),
                                              ("plain2", plain_sim), ("safe2", safe_sim)):
        users = [f"{mode}-{u}" for u in range(MID_USERS if mode != "warm" else 200)]
        for user in users:
            seed(user, "overseas", {"registered": True, "who": "张*"})
        lines = [[] for _ in range(THREADS)]
        for r in range(MID_ROUNDS if mode != "warm" else 20):
            for u, user in enumerate(users):
                lines[u % THREADS].append(request_line(sim, user, "2" if r % 2 == 0 else "返回"))
        files[mode] = write(var, mode, lines)
    # the confirm step: its own users, a few hundred to warm it up (first compilations), then the measured ones
    for name, first, count in (("confirm-warm", CONFIRM_USERS, 400), ("confirm", 0, CONFIRM_USERS)):
        lines = [[] for _ in range(THREADS)]
        for u in range(first, first + count):
            user = f"confirm-{u}"
            body = f"{330102}{1950 + u % 50}{1 + u % 12:02d}{1 + u % 28:02d}{u % 1000:03d}"  # unique below 21,000
            number = body + check_digit(body)
            seed(user, "confirm", {"registered": False, "who": "", "name": "张三", "id_type": "id_card",
                                   "id_number": number, "phone": "13812345678", "overseas": False, "travel": 4,
                                   "symptoms": False, "case": None, "measure": None},
                 trail=["name", "id_type", "id_number", "phone", "overseas", "travel", "symptoms", "case", "measure"])
            lines[u % THREADS].append(request_line(plain_sim, user, "1"))
        files[name] = write(var, name, lines)
    pipe.execute()
    return files


def request_line(sim: WeChatSimulator, user: str, text: str) -> str:
    xml = sim.xml(user, "text", {"Content": text})
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    path = f"/wechat?signature={_sign(TOKEN, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
    if sim.safe:
        from wechatpy.crypto import PrpCrypto, WeChatCrypto, _get_signature

        encrypt = PrpCrypto(WeChatCrypto(TOKEN, AES_KEY, APPID).key).encrypt(xml, APPID).decode()
        path += f"&encrypt_type=aes&msg_signature={_get_signature(TOKEN, timestamp, nonce, encrypt)}"
        xml = f"<xml><ToUserName><![CDATA[{sim.account}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return f"{path}\t{xml}"


def write(var, name, lines) -> str:
    prefix = var / f"requests-{name}"
    for t, rows in enumerate(lines):
        (var / f"requests-{name}_{t}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(prefix)


# -- servers and load ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(target: str, env: dict):
    import psutil

    from bot.infra.process import die_with_parent

    port = free_port()
    extra = os.environ.get("BENCH_GUNICORN_ARGS", "").split()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind",
                             f"127.0.0.1:{port}", "--log-level", "warning", *extra, target], cwd=ROOT, env=env,
                            preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn {target} did not start")
                time.sleep(0.2)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count_declarations(svc) -> int:
    from sqlalchemy import func, select

    from bot.domain.models import Declaration

    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(Declaration))


def combine(runs: list[dict]) -> dict:
    """Rounds of one kind: requests, time and machine time added up, the worst p99, errors added up."""
    total = {k: sum(r[k] for r in runs) for k in ("requests", "seconds", "non_2xx", "socket_errors", "wrapped",
                                                   "cpu_s")}
    total["cpu_us"] = total["cpu_s"] / total["requests"] * 1e6
    total.update(p50_ms=max(r["p50_ms"] for r in runs), p99_ms=max(r["p99_ms"] for r in runs))
    total["rps"] = total["requests"] / total["seconds"]
    return total


def cpu_seconds(procs) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def run_wrk(port: int, requests: str, seconds: int, procs=()) -> dict:
    """One wrk run; with `procs`, their CPU time during it (cpu_s)."""
    before = cpu_seconds(procs)
    out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "10s",
                          "-s", str(ROOT / "bench" / "wrk.lua"), f"http://127.0.0.1:{port}"],
                         env={**os.environ, "BENCH_REQUESTS": requests}, capture_output=True, text=True, check=True)
    line = next(l for l in out.stdout.splitlines() if l.startswith("BENCH "))
    result = json.loads(line[len("BENCH "):])
    result["rps"] = result["requests"] / result["seconds"]
    result["cpu_s"] = cpu_seconds(procs) - before
    return result
