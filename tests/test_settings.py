import base64
import os
import subprocess
import sys

import pytest

from bot.settings import SettingError, load_settings
from tests.conftest import ROOT


def good(tmp_path, **extra):
    env = {"VAR_DIR": str(tmp_path), "APP_ENV": "development"}
    env.update(extra)
    return env


def test_development_needs_no_setting(tmp_path):
    s = load_settings(good(tmp_path))
    assert s.env == "development" and s.redis_url is None and s.region_policy == "zhejiang"
    assert s.database_url == f"sqlite:///{tmp_path / 'healthcode.db'}"
    assert s.conversation_timeout == 1800 and s.code_token_ttl == 300 and not s.sms_verification
    # generated secrets are kept (0600) so the next start decrypts what this one wrote
    again = load_settings(good(tmp_path))
    assert again.pii_key == s.pii_key and again.secret_key == s.secret_key
    assert oct((tmp_path / "pii_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name, value, words", [
    ("PII_KEY", "c2hvcnQ=", "32 bytes"),
    ("PII_KEY", "not base64 at all!", "base64"),
    ("DATABASE_URL", "mysql://x", "sqlite"),
    ("REDIS_URL", "localhost:6379", "redis://"),
    ("CONVERSATION_TIMEOUT", "soon", "whole number"),
    ("CODE_TOKEN_TTL", "0", "between"),
    ("SMS_VERIFICATION", "maybe", "on or off"),
    ("REGION_POLICY", "../etc/passwd", "policy"),
    ("PUBLIC_BASE_URL", "example.com", "URL"),
    ("WECHAT_ENCODING_AES_KEY", "short", "43"),
    ("ALIPAY_APP_PRIVATE_KEY", "@/no/such/file.pem", "does not exist"),
    ("FONT_PATH", "/no/such/font.ttf", "does not exist"),
    ("APP_ENV", "staging", "one of"),
])
def test_malformed_setting_named(tmp_path, name, value, words):
    with pytest.raises(SettingError) as err:
        load_settings(good(tmp_path, **{name: value}))
    assert err.value.name == name and words in str(err.value)


def test_the_default_is_production(tmp_path):
    """Issue 15, finding 11: without APP_ENV the app ran as development (with /dev/chat)."""
    with pytest.raises(SettingError) as err:
        load_settings({"VAR_DIR": str(tmp_path)})
    assert err.value.name == "DATABASE_URL" and "APP_ENV=production" in str(err.value)


def test_production_requires_secrets(tmp_path):
    with pytest.raises(SettingError) as err:
        load_settings(good(tmp_path, APP_ENV="production"))
    assert err.value.name == "DATABASE_URL"
    assert not (tmp_path / "pii_key").exists()


def test_url_safe_and_standard_base64_keys(tmp_path):
    raw = bytes(range(32))
    for text in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert load_settings(good(tmp_path, PII_KEY=text)).pii_key == raw


@pytest.mark.parametrize("command", [
    [sys.executable, "-c", "import wsgi"],
    [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
    [sys.executable, "-m", "workers", "--burst"],
    [sys.executable, "-m", "bot.devtools.dev"],
])
def test_startup_stops_with_one_line(tmp_path, command):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "PII_KEY": "dG9vIHNob3J0", "APP_ENV": "development"}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["healthcode: setting PII_KEY: must be base64 of 32 bytes, got 9 bytes"], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
