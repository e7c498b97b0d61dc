"""Settings from the environment, validated at start-up (see API.md, "Configuration")."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
# `make run` (flask sandbox run) writes the URL of its embedded Redis here while it runs, so that
# a `flask jobs run-once` from another shell shares its store and its test clock.
EMBEDDED_REDIS_FILE = "embedded-redis.url"


class ConfigError(RuntimeError):
    """The environment does not describe a deployment we can start."""


# The keys that encrypt what the service must read back (POS keys' HMAC secrets, members' phones
# and WeChat session keys): Fernet keys (32 bytes, url-safe base64), comma-separated; the first
# encrypts, all decrypt (app.encryption). Outside SANDBOX and tests they come from the environment.
SANDBOX_DATA_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"sandbox-only-not-a-data-key").digest()
).decode()
# The key of the phones' keyed hash (HMAC-SHA256), the lookup by phone. Changing it means
# `flask keys rotate` at once: until it has run, lookups by phone miss the rows not yet rehashed.
SANDBOX_PHONE_HASH_KEY = hashlib.sha256(b"sandbox-only-not-a-phone-hash-key").hexdigest()
PHONE_HASH_KEY_MIN_LENGTH = 32


def _data_encryption_key(env: dict[str, str], sandbox_or_testing: bool) -> str:
    keys = [k.strip() for k in (env.get("DATA_ENCRYPTION_KEY") or "").split(",") if k.strip()]
    if not keys:
        if not sandbox_or_testing:
            raise ConfigError(
                "DATA_ENCRYPTION_KEY is not set. Set it to a Fernet key (python -c 'from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'); "
                "only SANDBOX=1 or tests may run without one."
            )
        # A fixed development key is acceptable only where nothing is real.
        return SANDBOX_DATA_ENCRYPTION_KEY
    for n, key in enumerate(keys, 1):
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError
        except ValueError as exc:
            raise ConfigError(
                f"DATA_ENCRYPTION_KEY: key {n} of {len(keys)} is not a Fernet key "
                "(32 bytes in url-safe base64; several keys are separated by commas)"
            ) from exc
    if len(set(keys)) != len(keys):
        raise ConfigError("DATA_ENCRYPTION_KEY names one key twice")
    return ",".join(keys)


def _phone_hash_key(env: dict[str, str], sandbox_or_testing: bool) -> str:
    key = (env.get("PHONE_HASH_KEY") or "").strip()
    if not key:
        if not sandbox_or_testing:
            raise ConfigError(
                "PHONE_HASH_KEY is not set. Set it to a long random string (python -c 'import "
                "secrets; print(secrets.token_hex(32))'); only SANDBOX=1 or tests may run "
                "without one."
            )
        return SANDBOX_PHONE_HASH_KEY
    if len(key) < PHONE_HASH_KEY_MIN_LENGTH and not sandbox_or_testing:
        raise ConfigError(
            f"PHONE_HASH_KEY is too short: use at least {PHONE_HASH_KEY_MIN_LENGTH} characters."
        )
    return key


PAY_SETTINGS = (
    "WECHAT_PAY_MCHID",
    "WECHAT_PAY_API_V3_KEY",
    "WECHAT_PAY_CERT_SERIAL",
    "WECHAT_PAY_PRIVATE_KEY",
    "WECHAT_PAY_NOTIFY_URL",
)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if value is None or not value.strip():
        return float(default)
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a number of seconds") from exc
    if not 0 <= seconds < 10**6:
        raise ConfigError(f"{name}={value!r} is out of range (0 to 999999 seconds)")
    return seconds


def embedded_redis_url(instance_dir: Path) -> str | None:
    """The URL of a running `make run`'s embedded Redis, if one answers (the file may be stale)."""
    try:
        url = (instance_dir / EMBEDDED_REDIS_FILE).read_text().strip()
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except (OSError, ValueError, IndexError):
        return None
    return url


@dataclass
class Settings:
    SECRET_KEY: str
    DATABASE_URL: str | None  # None: the embedded server in INSTANCE_DIR/pg (sandbox, tests)
    REDIS_URL: str | None
    BUSINESS_TZ: str
    SANDBOX: bool
    TESTING: bool
    WECHAT_API_BASE: str
    WECHAT_MINIAPP_APPID: str
    WECHAT_MINIAPP_SECRET: str
    WECHAT_OA_APPID: str
    WECHAT_OA_SECRET: str
    WECHAT_OA_TOKEN: str
    WECHAT_OA_AES_KEY: str
    WECHAT_OA_AES_KEY_PREVIOUS: str = ""
    DATA_ENCRYPTION_KEY: str = SANDBOX_DATA_ENCRYPTION_KEY  # comma-separated: first encrypts
    PHONE_HASH_KEY: str = SANDBOX_PHONE_HASH_KEY
    # showqrcode's host (mp.weixin.qq.com); empty: derived from WECHAT_API_BASE (wechat.client).
    WECHAT_MP_BASE: str = ""
    # WeChat Pay API v3 (paid membership). Empty under SANDBOX/tests: app.wechat.pay makes a
    # sandbox merchant (key pair shared through Redis, serial and API v3 key from SECRET_KEY).
    WECHAT_PAY_MCHID: str = ""
    WECHAT_PAY_API_V3_KEY: str = ""
    WECHAT_PAY_CERT_SERIAL: str = ""
    WECHAT_PAY_PRIVATE_KEY: str = ""
    WECHAT_PAY_API_BASE: str = "https://api.mch.weixin.qq.com"
    WECHAT_PAY_NOTIFY_URL: str = ""
    REDIS_KEY_PREFIX: str = "hy:"
    INSTANCE_DIR: str = str(INSTANCE_DIR)
    MEMBER_TOKEN_TTL: int = 7 * 24 * 3600
    STAFF_TOKEN_TTL: int = 12 * 3600
    LOG_JSON: bool = True
    # Time limits, in seconds (0: none), so that a database or Redis that hangs costs a request
    # seconds, not the whole hang (app/db_timeouts.py; README, "When a dependency goes down").
    DB_STATEMENT_TIMEOUT: float = 5.0
    DB_LOCK_TIMEOUT: float = 3.0
    DB_IDLE_IN_TRANSACTION_TIMEOUT: float = 30.0
    DB_JOB_STATEMENT_TIMEOUT: float = 1800.0  # the scheduler, imports, migrations
    DB_CONNECT_TIMEOUT: float = 3.0
    DB_POOL_TIMEOUT: float = 5.0
    DB_KEEPALIVES_IDLE: float = 10.0
    DB_KEEPALIVES_INTERVAL: float = 3.0
    DB_KEEPALIVES_COUNT: int = 3
    DB_TCP_USER_TIMEOUT: float = 15.0
    HEALTH_TIMEOUT: float = 1.5  # each /healthz check, and the ping of an idle pooled connection
    REDIS_SOCKET_TIMEOUT: float = 2.0
    REDIS_CONNECT_TIMEOUT: float = 2.0

    def as_flask(self) -> dict:
        url = self.DATABASE_URL
        if url and url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url and url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        # Idle connections are pinged before use by app.db_pool (not pool_pre_ping).
        # Connections get their time limits from app.db_timeouts (any engine options given).
        engine_options = {
            "pool_size": int(os.environ.get("DB_POOL_SIZE", "10")),
            "max_overflow": int(os.environ.get("DB_MAX_OVERFLOW", "20")),
            # A request waits this long for a pooled connection, then answers 503.
            "pool_timeout": self.DB_POOL_TIMEOUT,
        }
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SQLALCHEMY_TRACK_MODIFICATIONS": False,
            "REDIS_URL": self.REDIS_URL,
            "REDIS_KEY_PREFIX": self.REDIS_KEY_PREFIX,
            "INSTANCE_DIR": self.INSTANCE_DIR,
            "BUSINESS_TZ": self.BUSINESS_TZ,
            "SANDBOX": self.SANDBOX,
            "TESTING": self.TESTING,
            "WECHAT_API_BASE": self.WECHAT_API_BASE.rstrip("/"),
            "WECHAT_MINIAPP_APPID": self.WECHAT_MINIAPP_APPID,
            "WECHAT_MINIAPP_SECRET": self.WECHAT_MINIAPP_SECRET,
            "WECHAT_OA_APPID": self.WECHAT_OA_APPID,
            "WECHAT_OA_SECRET": self.WECHAT_OA_SECRET,
            "WECHAT_OA_TOKEN": self.WECHAT_OA_TOKEN,
            "WECHAT_OA_AES_KEY": self.WECHAT_OA_AES_KEY,
            "WECHAT_OA_AES_KEY_PREVIOUS": self.WECHAT_OA_AES_KEY_PREVIOUS,
            "DATA_ENCRYPTION_KEY": self.DATA_ENCRYPTION_KEY,
            "PHONE_HASH_KEY": self.PHONE_HASH_KEY,
            "WECHAT_MP_BASE": self.WECHAT_MP_BASE.rstrip("/"),
            "WECHAT_PAY_MCHID": self.WECHAT_PAY_MCHID,
            "WECHAT_PAY_API_V3_KEY": self.WECHAT_PAY_API_V3_KEY,
            "WECHAT_PAY_CERT_SERIAL": self.WECHAT_PAY_CERT_SERIAL,
            "WECHAT_PAY_PRIVATE_KEY": self.WECHAT_PAY_PRIVATE_KEY,
            "WECHAT_PAY_API_BASE": self.WECHAT_PAY_API_BASE.rstrip("/"),
            "WECHAT_PAY_NOTIFY_URL": self.WECHAT_PAY_NOTIFY_URL,
            "MEMBER_TOKEN_TTL": self.MEMBER_TOKEN_TTL,
            "STAFF_TOKEN_TTL": self.STAFF_TOKEN_TTL,
            "LOG_JSON": self.LOG_JSON,
            "DB_API_TIMEOUTS": {
                "statement": self.DB_STATEMENT_TIMEOUT,
                "lock": self.DB_LOCK_TIMEOUT,
                "idle_in_transaction": self.DB_IDLE_IN_TRANSACTION_TIMEOUT,
            },
            # Long statements and a lock connection idle in its transaction are a job's right.
            "DB_JOB_TIMEOUTS": {"statement": self.DB_JOB_STATEMENT_TIMEOUT},
            "DB_LIBPQ_PARAMS": {
                # libpq counts whole seconds, at least 2.
                "connect_timeout": max(2, round(self.DB_CONNECT_TIMEOUT)),
                "keepalives": 1,
                "keepalives_idle": max(1, round(self.DB_KEEPALIVES_IDLE)),
                "keepalives_interval": max(1, round(self.DB_KEEPALIVES_INTERVAL)),
                "keepalives_count": self.DB_KEEPALIVES_COUNT,
                "tcp_user_timeout": int(self.DB_TCP_USER_TIMEOUT * 1000),  # milliseconds
            },
            "HEALTH_TIMEOUT": self.HEALTH_TIMEOUT,
            "REDIS_SOCKET_TIMEOUT": self.REDIS_SOCKET_TIMEOUT,
            "REDIS_CONNECT_TIMEOUT": self.REDIS_CONNECT_TIMEOUT,
            "MAX_CONTENT_LENGTH": 256 * 1024,
            # Message dispatch: threads of the scheduler process, or RQ workers (jobs/queue.py).
            "DISPATCH_WORKERS": int(os.environ.get("DISPATCH_WORKERS", "2")),
            "DISPATCH_VIA": os.environ.get("DISPATCH_VIA", "threads"),
            # Sends in flight per dispatch worker (and at most this many uncertain after a crash).
            "DISPATCH_IN_FLIGHT": int(os.environ.get("DISPATCH_IN_FLIGHT", "8")),
            "PROXY_HOPS": int(os.environ.get("PROXY_HOPS", "0") or 0),
            "JSON_AS_ASCII": False,
            # flask-smorest / OpenAPI
            "API_TITLE": "Huiyuan membership API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "/docs",
            # Served by the app itself from a pinned package (app/api_docs.py): no CDN.
            "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
            # No badge fetched from the online validator: the page makes no outside request.
            "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None, "docExpansion": "none"},
        }


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and validate settings from `env` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    sandbox = _flag(env.get("SANDBOX"))
    testing = _flag(env.get("TESTING"))
    secret = env.get("SECRET_KEY", "")
    if not secret:
        if not (sandbox or testing):
            raise ConfigError(
                "SECRET_KEY is not set. Set it to a long random string "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))'); "
                "only SANDBOX=1 or tests may run without one."
            )
        # A fixed development key is acceptable only where nothing is real.
        secret = "sandbox-only-not-a-secret"
    elif len(secret) < 16 and not (sandbox or testing):
        raise ConfigError("SECRET_KEY is too short: use at least 16 characters.")
    tz = env.get("BUSINESS_TZ", "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"BUSINESS_TZ={tz!r} is not a known IANA time zone") from exc
    instance_dir = Path(env.get("INSTANCE_DIR") or INSTANCE_DIR)
    redis_url = env.get("REDIS_URL") or None
    if redis_url is None and sandbox and not testing:
        redis_url = embedded_redis_url(instance_dir)
    if not (sandbox or testing):
        # A production database is named: never the embedded one inside the source tree.
        required = ("DATABASE_URL", "WECHAT_MINIAPP_APPID", "WECHAT_MINIAPP_SECRET")
        missing = [n for n in required if not env.get(n)]
        if missing:
            raise ConfigError(f"missing configuration: {', '.join(missing)}")
        pay = [n for n in PAY_SETTINGS if env.get(n)]
        if pay and len(pay) != len(PAY_SETTINGS):
            missing = ", ".join(n for n in PAY_SETTINGS if n not in pay)
            raise ConfigError(f"WeChat Pay is half configured: missing {missing}")
    data_key = _data_encryption_key(env, sandbox or testing)
    phone_hash_key = _phone_hash_key(env, sandbox or testing)
    limits = {
        name: _seconds(env, name, default)
        for name, default in (
            ("DB_STATEMENT_TIMEOUT", Settings.DB_STATEMENT_TIMEOUT),
            ("DB_LOCK_TIMEOUT", Settings.DB_LOCK_TIMEOUT),
            ("DB_IDLE_IN_TRANSACTION_TIMEOUT", Settings.DB_IDLE_IN_TRANSACTION_TIMEOUT),
            ("DB_JOB_STATEMENT_TIMEOUT", Settings.DB_JOB_STATEMENT_TIMEOUT),
            ("DB_CONNECT_TIMEOUT", Settings.DB_CONNECT_TIMEOUT),
            ("DB_POOL_TIMEOUT", Settings.DB_POOL_TIMEOUT),
            ("DB_KEEPALIVES_IDLE", Settings.DB_KEEPALIVES_IDLE),
            ("DB_KEEPALIVES_INTERVAL", Settings.DB_KEEPALIVES_INTERVAL),
            ("DB_TCP_USER_TIMEOUT", Settings.DB_TCP_USER_TIMEOUT),
            ("HEALTH_TIMEOUT", Settings.HEALTH_TIMEOUT),
            ("REDIS_SOCKET_TIMEOUT", Settings.REDIS_SOCKET_TIMEOUT),
            ("REDIS_CONNECT_TIMEOUT", Settings.REDIS_CONNECT_TIMEOUT),
        )
    }
    # Where 0 would mean "wait for ever", which is what these limits exist to prevent.
    for name in ("DB_CONNECT_TIMEOUT", "DB_POOL_TIMEOUT", "HEALTH_TIMEOUT") + tuple(
        n for n in limits if n.startswith("REDIS_")
    ):
        if limits[name] <= 0:
            raise ConfigError(f"{name} must be more than 0 seconds")
    if limits["DB_STATEMENT_TIMEOUT"] <= 0:
        raise ConfigError("DB_STATEMENT_TIMEOUT must be more than 0 seconds for the API")
    keepalives_count = _seconds(env, "DB_KEEPALIVES_COUNT", Settings.DB_KEEPALIVES_COUNT)
    return Settings(
        **limits,
        DB_KEEPALIVES_COUNT=max(1, int(keepalives_count)),
        SECRET_KEY=secret,
        DATABASE_URL=env.get("DATABASE_URL") or None,
        REDIS_URL=redis_url,
        BUSINESS_TZ=tz,
        SANDBOX=sandbox,
        TESTING=testing,
        WECHAT_API_BASE=env.get("WECHAT_API_BASE") or "https://api.weixin.qq.com",
        WECHAT_MINIAPP_APPID=env.get("WECHAT_MINIAPP_APPID", "wx_sandbox_miniapp"),
        WECHAT_MINIAPP_SECRET=env.get("WECHAT_MINIAPP_SECRET", "sandbox-miniapp-secret"),
        WECHAT_OA_APPID=env.get("WECHAT_OA_APPID", "wx_sandbox_oa"),
        WECHAT_OA_SECRET=env.get("WECHAT_OA_SECRET", "sandbox-oa-secret"),
        WECHAT_OA_TOKEN=env.get("WECHAT_OA_TOKEN", "sandboxtoken"),
        WECHAT_OA_AES_KEY=env.get("WECHAT_OA_AES_KEY", ""),
        WECHAT_OA_AES_KEY_PREVIOUS=env.get("WECHAT_OA_AES_KEY_PREVIOUS", ""),
        DATA_ENCRYPTION_KEY=data_key,
        PHONE_HASH_KEY=phone_hash_key,
        WECHAT_MP_BASE=env.get("WECHAT_MP_BASE", ""),
        **{name: env.get(name, "") for name in PAY_SETTINGS},
        WECHAT_PAY_API_BASE=env.get("WECHAT_PAY_API_BASE") or "https://api.mch.weixin.qq.com",
        REDIS_KEY_PREFIX=env.get("REDIS_KEY_PREFIX", "hy:"),
        INSTANCE_DIR=str(instance_dir),
        LOG_JSON=not _flag(env.get("LOG_PLAIN")),
    )
