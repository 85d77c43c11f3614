"""The cluster test's load (bench/cluster.py): simulated WeChat users through HAProxy, each
registering and then declaring again and again. A user reads what it is asked and answers that,
the way a person would, so a failover cannot make it answer the wrong question. A "busy" answer
or a failed request is sent again a moment later, like a person would retry. Also the
requests/s through HAProxy with one web node and with two (wrk)."""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from urllib.parse import urlparse

from bot.devtools.devchat import WeChatSimulator, _sign
from bot.domain.idcard import check_digit
from bot.infra.config import ROOT

CONFIRMED: dict[str, int] = {}   # user -> declarations the chat said were stored
BUSY, BROKEN = "系统繁忙", "出了点问题"
# what the bot asks (the first that its answer holds) -> what the user answers
ANSWERS = (("请核对申报信息", "1"), ("请输入您的姓名", "{name}"), ("请选择证件类型", "1"),
           ("请输入居民身份证号码", "{id}"), ("11位手机号", "13812345678"), ("近14天是否有境外旅居史", "2"),
           ("近21天是否到过中高风险地区", "4"), ("是否有发热", "2"), ("是否为确诊病例", "2"), ("目前是否正在接受", "5"),
           ("已填写的内容将不保存", "2"), ("请回复数字选择服务", "1"))


def _id(n: int) -> str:
    body = f"330108{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + check_digit(body)


class Load:
    def __init__(self, base: str, token: str, appid: str, users: int):
        url = urlparse(base)
        self.host, self.port = url.hostname, url.port
        self.token, self.users = token, users
        self.sim = WeChatSimulator(None, {"token": token, "appid": appid, "encoding_aes_key": None})
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.busy: list[float] = []
        self.ok: list[float] = []    # when each answer that was not "busy" came
        self.failed = self.answered = self.empty = 0
        self.reasons: dict[str, int] = {}
        self.threads: list[threading.Thread] = []
        self.started = self.ended = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        for n in range(self.users):
            t = threading.Thread(target=self._user, args=(n,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)
        self.ended = time.monotonic()

    def busy_times(self) -> list[float]:
        with self.lock:
            return list(self.busy)

    def first_answer_after(self, moment: float) -> float | None:
        with self.lock:
            return next((t for t in self.ok if t > moment), None)

    def failed_requests(self) -> int:
        with self.lock:
            return self.failed

    def figures(self) -> dict:
        seconds = (self.ended or time.monotonic()) - self.started
        return {"load_seconds": round(seconds, 1), "messages_answered": self.answered,
                "messages_per_s": round(self.answered / seconds, 1) if seconds else 0,
                "requests_failed": self.failed, "answered_busy_total": len(self.busy),
                "answered_late": self.empty, "failure_reasons": dict(self.reasons)}

    def _send(self, conn: http.client.HTTPConnection, user: str, text: str) -> str | None:
        xml = self.sim.xml(user, "text", {"Content": text}).encode()
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        path = f"/wechat?signature={_sign(self.token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
        try:
            conn.request("POST", path, body=xml, headers={"Content-Type": "text/xml"})
            resp = conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._why(type(exc).__name__)
            return None
        if resp.status != 200:
            self._why(f"HTTP {resp.status}")
            return None
        return self.sim.read_reply(body)

    def _why(self, reason: str) -> None:
        with self.lock:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def _user(self, n: int) -> None:
        user, values = f"cluster-{n}", {"name": "张三", "id": _id(n)}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        text = "1"
        while not self.stopping.is_set():
            reply = self._send(conn, user, text)
            with self.lock:
                if reply is None:
                    self.failed += 1
                elif BUSY in reply:
                    self.busy.append(time.monotonic())
                else:
                    self.answered += 1
                    self.empty += reply == ""
                    self.ok.append(time.monotonic())
            if reply is None or BUSY in reply:
                time.sleep(0.3)
                continue  # the same message again
            if "申报成功" in reply:
                CONFIRMED[user] = CONFIRMED.get(user, 0) + 1
                text = "1"
            elif not reply:
                time.sleep(0.5)  # answered later, as a push: ask where things stand
                text = "菜单"
            else:
                text = next((a.format(**values) for asked, a in ANSWERS if asked in reply), "菜单")
        conn.close()


def throughput(base: str, admin, procs, token: str, appid: str, var) -> dict:
    """Requests/s through HAProxy with web2 taken out (one node) and with both, for a menu
    request from many users (wrk, 32 connections, 6 s each)."""
    if not shutil.which("wrk"):
        return {"rps_1_web_node": None, "rps_2_web_nodes": None}
    sim = WeChatSimulator(None, {"token": token, "appid": appid, "encoding_aes_key": None})
    lines = [[], []]
    for i in range(20000):
        xml = sim.xml(f"rps-{i}", "text", {"Content": "菜单"})
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        lines[i % 2].append(f"/wechat?signature={_sign(token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
                            f"\t{xml}")
    for t, rows in enumerate(lines):
        (var / f"rps_{t}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = {}
    for nodes, command in ((1, "disable server web/web2"), (2, "enable server web/web2")):
        _admin(admin, command)
        time.sleep(1.5)
        run = subprocess.run(["wrk", "-t", "2", "-c", "32", "-d", "6s", "--timeout", "10s", "-s",
                              str(ROOT / "bench" / "wrk.lua"), base], capture_output=True, text=True, check=True,
                             env={**os.environ, "BENCH_REQUESTS": str(var / "rps")})
        result = json.loads(next(l for l in run.stdout.splitlines() if l.startswith("BENCH "))[6:])
        out[f"rps_{nodes}_web_node{'s' if nodes > 1 else ''}"] = round(result["requests"] / result["seconds"])
        out[f"rps_{nodes}_p99_ms"] = round(result["p99_ms"], 1)
    procs.mark_cpu()
    return out


def _admin(socket_path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(socket_path))
        s.sendall(command.encode() + b"\n")
        return s.recv(4096).decode()
