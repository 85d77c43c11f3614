"""`make dev`: database, Redis, web app and one worker, supervised; Ctrl-C stops all of it.

Order matters: the embedded Redis starts first and stops last (the web app and the worker
hold connections to it). Every child also gets PR_SET_PDEATHSIG, so killing this supervisor
outright still takes its children with it.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from bot.infra.process import die_with_parent
from bot.infra.config import ROOT, ConfigError
from bot.settings import load_settings

DEV_ADMIN = "dev admin"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _dev_alipay_keys(var_dir, env: dict):
    """An app key pair and a key for the stub's "Alipay", made once (0600) under var/."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    paths = {}
    for name in ("alipay_app_key.pem", "alipay_stub_key.pem"):
        path = var_dir / name
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
            path.chmod(0o600)
        paths[name] = path
    stub_key = serialization.load_pem_private_key(paths["alipay_stub_key.pem"].read_bytes(), None)
    public = var_dir / "alipay_stub_public.pem"
    public.write_bytes(stub_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    env.update(ALIPAY_APPID="2021000000000000", ALIPAY_APP_PRIVATE_KEY="@" + str(paths["alipay_app_key.pem"]),
               ALIPAY_PUBLIC_KEY="@" + str(public))
    return paths["alipay_stub_key.pem"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, procs, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except Exception:
            pass
        time.sleep(0.2)
    return False


def first_staff_token(services) -> str:
    """A fresh token for the development admin account (created once, its token rotated each run)."""
    from sqlalchemy import select

    from bot.domain.models import Staff
    from bot.domain.staff import create_staff, rotate_token

    with services.db.session() as s:
        staff = s.scalar(select(Staff).where(Staff.name == DEV_ADMIN, Staff.role == "admin"))
        if staff is None:
            _, token = create_staff(s, "admin", DEV_ADMIN)
        else:
            token = rotate_token(s, staff)
    return token


def main() -> int:
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")  # what make dev is for; the default is production
    try:
        settings = load_settings(env)
        from bot.domain.rules.loading import load_policy

        load_policy(settings.region_policy)
    except ConfigError as exc:
        print(f"healthcode: {exc}", file=sys.stderr)
        return 2
    if settings.production:
        print("healthcode: make dev is for development; unset APP_ENV=production", file=sys.stderr)
        return 2
    if not _port_free(settings.port):
        print(f"healthcode: 127.0.0.1:{settings.port} is in use (another `make dev`?); set PORT to use another",
              file=sys.stderr)
        return 2

    from bot.infra import migrate
    from bot.infra.redis.embedded import EmbeddedRedis
    from bot.services import Services

    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.var_dir)
        if not embedded.ensure(die_with_parent=True):
            embedded = None  # one was running already (left by a killed run): use it, do not own it
        env["REDIS_URL"] = EmbeddedRedis(settings.var_dir).url

    procs: list[subprocess.Popen] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping…", flush=True)
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if embedded is not None:
            embedded.stop()
        print("stopped.", flush=True)

    def interrupt(*_):
        raise KeyboardInterrupt

    # our own handlers: a shell that starts us in the background hands SIGINT down ignored, and
    # Ctrl-C (or the test's SIGINT) must still stop everything
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        services = Services(load_settings(env))
        migrate.upgrade(services)
        token = first_staff_token(services)
        services.db.dispose()

        python = sys.executable
        common = dict(cwd=str(ROOT), env=env, preexec_fn=die_with_parent)
        stub = None
        if not settings.wechat_api_base and not env.get("WECHAT_SECRET"):
            # no real WeChat account: pushes go to the local platform stub, /dev/chat shows them
            stub_port = settings.port + 10 if _port_free(settings.port + 10) else _free_port()
            stub = f"http://127.0.0.1:{stub_port}"
            env["WECHAT_API_BASE"] = stub
            stub_args = ["--port", str(stub_port)]
            if not settings.alipay.get("appid"):
                # no Alipay account either: the stub plays Alipay with keys kept under var/
                stub_key = _dev_alipay_keys(settings.var_dir, env)
                env["ALIPAY_GATEWAY"] = stub
                stub_args += ["--alipay-key", str(stub_key)]
            procs.append(subprocess.Popen([python, "-m", "bot.devtools.platform_stub", *stub_args], **common))
        procs.append(subprocess.Popen([python, "-m", "gunicorn", "--workers", "2", "--bind",
                                       f"127.0.0.1:{settings.port}", "--graceful-timeout", "5",
                                       "--log-level", "warning", "wsgi:app"], **common))
        procs.append(subprocess.Popen([python, "-m", "workers"], **common))

        base = f"http://127.0.0.1:{settings.port}"
        if not _wait_healthy(base + "/healthz", procs):
            print("healthcode: the web app did not become healthy; see the log above", file=sys.stderr)
            stop()
            return 1
        public = settings.public_base_url
        print(f"""
Health code backend (development) is running.
  WeChat official account webhook  {public}/wechat
  WeChat mini-program webhook      {public}/wechat/mp
  Alipay gateway                   {public}/alipay
  Development chat page            {public}/dev/chat   (or: APP_ENV=development .venv/bin/flask --app wsgi simulate)
  WeChat (development account)     token {settings.wechat.get('token')}, AppID {settings.wechat.get('appid')}
  Staff console                    {public}/console
  Platform API                     {stub or settings.wechat_api_base or 'the real WeChat API'}{' (local stub)' if stub else ''}
  Health / metrics                 {base}/healthz  {base}/metrics
  Database                         {settings.database_url}
  Redis                            {env.get('REDIS_URL')}
First staff token (admin, "{DEV_ADMIN}"; a new one each run):
  {token}
Press Ctrl-C to stop.""", flush=True)
        while True:
            for p in procs:
                if p.poll() is not None:
                    print(f"healthcode: {' '.join(p.args[1:3])} exited with {p.returncode}", file=sys.stderr)
                    stop()
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop()
        return 0
    except BaseException:
        stop()
        raise


if __name__ == "__main__":
    sys.exit(main())
