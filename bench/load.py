"""Load: 2,000 simulated WeChat users in conversation at once for 60 s against gunicorn on
loopback (quality.md). Each user registers and declares, then keeps going (my code, declaring
again) until the time is up, sending each message only after the answer to the previous one.

Requests go through a pool of connections (gunicorn's sync workers take one request at a time,
so 2,000 sockets would only queue in the backlog). Checked: every answer is 200 and none is the
"busy" or "error" text; every confirmed declaration is in the database."""
from __future__ import annotations

import asyncio
import base64
import os
import random
import secrets
import statistics
import sys
import time

from bench import workspace
from bench.webhook import APPID, TOKEN, gunicorn
from bot.infra import migrate
from bot.devtools.devchat import WeChatSimulator, _sign
from bot.domain.idcard import check_digit
from bot.services import Services

USERS = int(os.environ.get("BENCH_LOAD_USERS", "2000"))
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
CONNECTIONS = 64
BAD = ("系统繁忙", "出了点问题")


def _id(n: int) -> str:
    body = f"330106{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + check_digit(body)


class Load:
    def __init__(self, port: int):
        self.port = port
        self.sim = WeChatSimulator(None, {"token": TOKEN, "appid": APPID, "encoding_aes_key": None})
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.confirmed = 0
        self.slots = asyncio.Semaphore(CONNECTIONS)

    async def send(self, user: str, text: str) -> str:
        xml = self.sim.xml(user, "text", {"Content": text}).encode()
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        path = f"/wechat?signature={_sign(TOKEN, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                   f"Content-Length: {len(xml)}\r\nConnection: close\r\n\r\n").encode() + xml
        async with self.slots:
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(request)
            raw = await reader.read()
            writer.close()
            self.latencies.append(time.perf_counter() - started)
        head, _, body = raw.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1] if head else b"0"
        text = self.sim.read_reply(body.decode("utf-8", "replace")) if status == b"200" else ""
        if status != b"200" or any(word in text for word in BAD):
            self.errors.append(f"{user} {text[:40]!r} HTTP {status.decode()}")
        return text

    async def user(self, n: int, until: float) -> None:
        user = f"load-{n}"
        await asyncio.sleep(random.random() * 2)  # users arrive over the first two seconds
        script = ["1", "张三", "1", _id(n), "13812345678", "2", "4", "2", "2", "5", "1"]
        while True:
            for text in script:
                reply = await self.send(user, text)
            if "申报成功" in reply:
                self.confirmed += 1
            else:
                self.errors.append(f"{user}: no declaration: {reply[:60]!r}")
            if time.monotonic() > until:
                return
            await self.send(user, "2")  # my code
            script = ["1", "2", "4", "2", "2", "5", "1"]  # declaring again, registered now

    async def run(self, users: int, seconds: int) -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(self.user(n, until) for n in range(users)))


def run():
    with workspace("load") as (var, redis_url):
        env = {**os.environ, "APP_ENV": "test", "VAR_DIR": str(var), "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{var / 'bench.db'}", "SECRET_KEY": secrets.token_urlsafe(32),
               "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(), "WECHAT_TOKEN": TOKEN,
               "WECHAT_APPID": APPID, "PROMETHEUS_MULTIPROC_DIR": str(var / "prom"),
               "CHAT_RATE_PER_MIN": "10000"}  # robots: each sends far more than a person would
        env.pop("TEST_DATABASE_URL", None)
        env.pop("WECHAT_ENCODING_AES_KEY", None)
        (var / "prom").mkdir()
        svc = Services.from_env(env)
        migrate.upgrade(svc)
        svc.redis.client().flushdb()
        svc.close()
        with gunicorn("wsgi:app", env) as (port, _):
            load = Load(port)
            started = time.perf_counter()
            asyncio.run(load.run(USERS, SECONDS))
            elapsed = time.perf_counter() - started
        svc = Services.from_env(env)
        with svc.db.session() as s:
            from sqlalchemy import func, select

            from bot.domain.models import Declaration

            stored = s.scalar(select(func.count()).select_from(Declaration))
        svc.close()
    lat = sorted(load.latencies)
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0.0)
    lost = load.confirmed - stored if stored < load.confirmed else 0
    print(f"load: {USERS} users for {elapsed:.0f} s: {len(lat)} requests ({len(lat) / elapsed:.0f}/s), "
          f"p50 {p(0.5):.0f} ms, p90 {p(0.9):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1] * 1000 if lat else 0:.0f} ms; "
          f"{load.confirmed} declarations confirmed, {stored} stored; {len(load.errors)} bad answers"
          + (f" (first: {load.errors[0]})" if load.errors else ""), file=sys.stderr)
    return [
        ("load_users", USERS, None, None),
        ("load_requests_per_s", round(len(lat) / elapsed), None, None),
        ("load_p50_ms", round(p(0.5), 1), None, None),
        ("load_p99_ms", round(p(0.99), 1), None, None),
        ("load_mean_ms", round(statistics.mean(lat) * 1000, 1) if lat else 0, None, None),
        ("load_bad_answers", len(load.errors), "0", not load.errors),
        ("load_declarations_lost", lost, "0", lost == 0 and load.confirmed > 0),
    ]
