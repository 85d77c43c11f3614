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


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_dev(tmp_path, port):
    """make dev as a non-interactive shell starts it (`make test &`, CI): SIGINT handed down
    ignored (issue 15, finding 14: it then never stopped), in a process group of its own that
    the test kills on any failure."""
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.devtools.dev"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                            preexec_fn=_ignore_sigint)
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

        svc = Services.from_env({"APP_ENV": "development", "VAR_DIR": str(tmp_path), "REDIS_URL": "redis://unused:1"})
        with svc.db.session() as s:
            assert authenticate(s, token).role == "admin"
        svc.db.dispose()
    finally:
        _stop(proc)
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], [p.cmdline() for p in alive]
    assert not (tmp_path / "redis.sock").exists()

    # running it twice is safe: same database, a new token, still healthy
    proc, token2, out = _run_dev(tmp_path, port)
    try:
        assert token2 and token2 != token, out
    finally:
        family = psutil.Process(proc.pid).children(recursive=True)
        _stop(proc)
    assert psutil.wait_procs(family, timeout=15)[1] == []


def _stop(proc):
    """Ctrl-C; if make dev does not stop on it, its whole group is killed (nothing leaks) and the
    test fails."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raise AssertionError("make dev did not stop on SIGINT") from None


@pytest.mark.parametrize("app_env", ["test", "production"])
def test_dev_pages_exist_only_in_development(make_app, app_env):
    """Issue 15, finding 11: /dev/chat (an unauthenticated signing oracle) and /dev/chat/inbox
    (every user's pushes) were served whenever APP_ENV was not production."""
    extra = {"APP_ENV": app_env}
    if app_env == "production":
        extra.update(PUBLIC_BASE_URL="https://hc.example.cn")
    app, _ = make_app(**extra)
    client = app.test_client()
    assert client.get("/dev/chat").status_code == 404
    assert client.post("/dev/chat/send", json={"user": "victim", "text": "2"}).status_code == 404
    assert client.get("/dev/chat/inbox?user=victim").status_code == 404
    assert client.get("/dev/sms").status_code == 404
    dev, _ = make_app(APP_ENV="development")
    assert dev.test_client().get("/dev/chat").status_code == 200
    assert dev.test_client().get("/dev/sms").status_code == 200
