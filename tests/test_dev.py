"""`make dev`'s supervisor: healthy within two minutes, prints a token, Ctrl-C leaves nothing."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest

from bot.domain.staff import authenticate
from tests.conftest import ROOT
from tests.support.chat import CLEAN, REGISTRATION


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_dev(tmp_path, port):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.devtools.dev"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    token, lines = None, []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        lines.append(line)
        if line.strip().startswith("hcs_"):
            token = line.strip()
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    return proc, token, "".join(lines)


@pytest.mark.slow
def test_make_dev_runs_and_ctrl_c_stops_everything(tmp_path):
    port = _free_port()
    proc, token, out = _run_dev(tmp_path, port)
    try:
        assert token, out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
            assert json.load(resp) == {"status": "ok", "failing": [], "database": "ok", "redis": "ok"}
        for url in ("/wechat", "/dev/chat", "/console"):
            assert f"127.0.0.1:{port}{url}" in out
        family = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        assert "redis-server" in names and "gunicorn" in names and "-m workers" in names
        assert "bot.devtools.platform_stub" in names and "Platform API" in out and "(local stub)" in out
        # the Alipay channel is configured against the stub too (404 would mean it is off)
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/alipay", data=b"service=x"))
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
        # a declaration on the development chat page: the worker pushes the code image to the stub
        base = f"http://127.0.0.1:{port}"
        for line in (*REGISTRATION, *CLEAN, "1"):
            req = urllib.request.Request(base + "/dev/chat/send", data=json.dumps(
                {"user": "dev-e2e", "text": line}).encode(), headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                reply = json.load(resp)
        assert "/codes/" in reply["text"], reply
        pushes = []
        deadline = time.monotonic() + 30
        while not pushes and time.monotonic() < deadline:
            with urllib.request.urlopen(base + "/dev/chat/inbox?user=dev-e2e", timeout=5) as resp:
                pushes = [p for p in json.load(resp)["pushes"] if p.get("image")]
            time.sleep(0.3)
        assert pushes, "the code image was not pushed"
        with urllib.request.urlopen(base + pushes[0]["image"], timeout=5) as resp:
            assert resp.headers["Content-Type"] == "image/png" and resp.read().startswith(b"\x89PNG")
        # the token printed is a working admin token
        from bot.services import Services

        svc = Services.from_env({"VAR_DIR": str(tmp_path), "REDIS_URL": "redis://unused:1"})
        with svc.db.session() as s:
            assert authenticate(s, token).role == "admin"
        svc.db.dispose()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], [p.cmdline() for p in alive]
    assert not (tmp_path / "redis.sock").exists()

    # running it twice is safe: same database, a new token, still healthy
    proc, token2, out = _run_dev(tmp_path, port)
    try:
        assert token2 and token2 != token, out
    finally:
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert psutil.wait_procs(family, timeout=15)[1] == []
