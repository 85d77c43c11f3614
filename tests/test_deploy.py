"""Issue 19, deploy/: Docker is not on this machine, so the compose file, the Dockerfile, the
HAProxy and Sentinel configuration and the systemd units are checked against the code: every
command a service runs exists and starts the way it is written, every variable it sets is one
the code reads, and the compose environment is a valid production configuration."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.infra.config import ROOT
from bot.settings import SettingsSchema, load_settings

DEPLOY = ROOT / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _names_read(path: Path) -> set[str]:
    return set(re.findall(r"""os\.environ\.get\(["']([A-Z0-9_]+)["']""", path.read_text()))


def known_settings() -> set[str]:
    """Every variable the code reads: the settings schema's, the free-form names settings.py
    reads itself, the gunicorn config's and the worker launcher's, prometheus-client's."""
    names = {f.data_key for f in SettingsSchema._declared_fields.values() if f.data_key}
    text = (ROOT / "bot" / "settings.py").read_text()
    names |= set(re.findall(r'original\.get\("([A-Z0-9_]+)"\)', text))
    names |= {p + s for p in ("WECHAT_", "WECHAT_MP_") for s in re.findall(r'prefix \+ "([A-Z0-9_]+)"', text)}
    names |= _names_read(ROOT / "config" / "gunicorn.py") | _names_read(ROOT / "workers" / "__main__.py")
    return names | {"PROMETHEUS_MULTIPROC_DIR"}


def _our_services(compose) -> dict:
    return {name: s for name, s in compose["services"].items() if s.get("image") == "healthcode:latest"}


def test_every_setting_in_the_compose_file_is_read_by_the_code():
    known = known_settings()
    for name, service in _our_services(_compose()).items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which nothing reads"


def test_the_compose_environment_is_a_valid_production_configuration(tmp_path):
    env = dict(_compose()["services"]["web-1"]["environment"])
    sample = {"POSTGRES_PASSWORD": "pw", "SECRET_KEY": "s" * 32, "PII_KEY": "A" * 43 + "=",
              "PUBLIC_BASE_URL": "https://hc.example.cn", "WECHAT_TOKEN": "token", "WECHAT_APPID": "wx1",
              "WECHAT_SECRET": "secret", "WECHAT_ENCODING_AES_KEY": "a" * 43}
    resolved = {k: re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: sample.get(m.group(1), m.group(2) or ""), str(v))
                for k, v in env.items()}
    settings = load_settings({**resolved, "VAR_DIR": str(tmp_path)})
    assert settings.production and settings.redis_sentinels == (("sentinel-1", 26379), ("sentinel-2", 26379),
                                                                 ("sentinel-3", 26379))
    master = re.search(r"sentinel monitor (\S+) (\S+) (\d+) (\d+)", (DEPLOY / "sentinel.conf").read_text())
    assert master.group(1) == settings.redis_sentinel_master and master.group(2) == "redis-primary"
    assert int(master.group(4)) == 2  # a quorum of two of the three Sentinels
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_statement_timeout) == (5, 10, 30000)


def test_every_command_exists_as_written():
    compose = _compose()
    ours = _our_services(compose)
    assert {"web-1", "web-2", "worker-1", "worker-2", "migrate"} <= set(ours)
    assert {"haproxy", "postgres", "redis-primary", "redis-replica", "sentinel-1", "sentinel-2",
            "sentinel-3"} <= set(compose["services"])
    for name, service in ours.items():
        command = service["command"]
        if command[0] == "gunicorn":
            assert command[1:] == ["-c", "config/gunicorn.py", "wsgi:app"], name
        elif command[:3] == ["python", "-m", "workers"]:
            assert (ROOT / "workers" / "__main__.py").is_file()
        elif command[:3] == ["flask", "--app", "wsgi"]:
            from bot.cli import register  # noqa: F401  (the CLI groups exist)
            from flask import Flask

            app = Flask("check")
            register(app)
            group = app.cli.commands[command[3]]
            assert command[4] in group.commands, name
        else:
            pytest.fail(f"{name}: an unknown command {command}")
    docker = (DEPLOY / "Dockerfile").read_text()
    assert docker.count("FROM ") >= 2 and "USER healthcode" in docker and "HEALTHCHECK" in docker
    assert 'CMD ["gunicorn", "-c", "config/gunicorn.py", "wsgi:app"]' in docker
    for source in re.findall(r"^COPY --chown=\S+ (\S+) ", docker, re.M):
        assert (ROOT / source).exists(), source
    for unit in (DEPLOY / "systemd").glob("*.service"):
        for line in re.findall(r"^ExecStart(?:Pre)?=(.+)$", unit.read_text(), re.M):
            args = shlex.split(line)
            assert args[0].startswith("/srv/healthcode/.venv/bin/"), unit.name
            if "gunicorn" in args[0]:
                assert args[1:] == ["-c", "config/gunicorn.py", "wsgi:app"]
            elif args[1:3] == ["-m", "workers"]:
                pass
            else:
                assert args[1:] == ["--app", "wsgi", "db", "upgrade"], line


def test_the_gunicorn_config_loads_and_scales_with_the_cores(monkeypatch):
    import multiprocessing

    config: dict = {}
    source = (ROOT / "config" / "gunicorn.py").read_text()
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    exec(compile(source, "config/gunicorn.py", "exec"), config)
    assert config["workers"] == multiprocessing.cpu_count() * 2 + 1
    assert config["logger_class"] == "bot.infra.access_log.JsonAccessLogger" and config["graceful_timeout"] > 0
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    config = {}
    exec(compile(source, "config/gunicorn.py", "exec"), config)
    assert config["workers"] == 3


@pytest.mark.skipif(not shutil.which("haproxy"), reason="Debian haproxy is not installed (.ci/run installs it)")
def test_haproxy_accepts_its_configuration():
    out = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_access_log_is_json_with_tokens_redacted(capsys):
    """gunicorn's access line for a code page link and a signed webhook: JSON, the token and the
    signature gone, the ID number in a query masked."""
    import datetime as dt
    import json
    import logging

    from gunicorn.config import Config

    from bot.infra.access_log import JsonAccessLogger

    cfg = Config()
    cfg.set("accesslog", "-")
    logger = JsonAccessLogger(cfg)
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger.access_log.handlers = [handler]

    class Resp:
        status = "200 OK"
        sent = 1234
        headers = [("X-Request-ID", "abc123")]

    for path, query in (("/codes/v1.SECRETTOKEN123", ""), ("/wechat", "signature=deadbeef&timestamp=1&nonce=2"),
                        ("/api/v1/people", "id_number=110101199003077578")):
        logger.access(Resp(), None, {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                                     "REMOTE_ADDR": "10.0.0.9"}, dt.timedelta(milliseconds=12.5))
    entries = [json.loads(line) for line in lines]
    assert [e["status"] for e in entries] == [200, 200, 200] and entries[0]["request_id"] == "abc123"
    assert entries[0]["ms"] == 12.5 and entries[0]["logger"] == "gunicorn.access"
    text = "\n".join(lines)
    assert "SECRETTOKEN123" not in text and "deadbeef" not in text and "110101199003077578" not in text
    assert "/codes/[redacted]" in text and "signature=[redacted]" in text
