"""Extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

import threading

import redis
from flask import Flask, current_app, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.errors import HuiyuanApi

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = HuiyuanApi()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def init_limiter(app: Flask) -> None:
    """Flask-Limiter on the app's Redis, every key under REDIS_KEY_PREFIX like the app's own.

    The `limits` storage names its keys `<key_prefix>:LIMITER/...` (default key_prefix "LIMITS",
    outside the namespace); with `<REDIS_KEY_PREFIX>rl` they read `hy:rl:LIMITER/...`, so an
    operator's `hy:*` finds (and a shared Redis keeps apart) the rate limits too."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault(
        "RATELIMIT_STORAGE_OPTIONS",
        {
            "key_prefix": app.config["REDIS_KEY_PREFIX"] + "rl",
            # The limiter's own Redis connection: bounded like ours (it has no timeout of its own).
            "socket_timeout": app.config["REDIS_SOCKET_TIMEOUT"],
            "socket_connect_timeout": app.config["REDIS_CONNECT_TIMEOUT"],
        },
    )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "")  # the storage's prefix is the namespace
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)


class RedisStore:
    """One app's Redis client: a real server from REDIS_URL, else an embedded fakeredis."""

    _fake_server = None
    _fake_lock = threading.Lock()

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        # /healthz's own client: a short timeout and no retry, so a frozen Redis costs it
        # HEALTH_TIMEOUT once.
        self.health_client: redis.Redis | None = None
        self.prefix = "hy:"
        self.embedded = False

    def init_app(self, app: Flask) -> None:
        url = app.config.get("REDIS_URL")
        self.prefix = app.config.get("REDIS_KEY_PREFIX", "hy:")
        if url:
            # A Redis that hangs (accepts, never answers) costs a command REDIS_SOCKET_TIMEOUT.
            self.client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=app.config.get("REDIS_CONNECT_TIMEOUT", 2),
                socket_timeout=app.config.get("REDIS_SOCKET_TIMEOUT", 2),
                health_check_interval=15,
            )
            within = app.config.get("HEALTH_TIMEOUT", 1.5)
            self.health_client = redis.Redis.from_url(
                url,
                socket_connect_timeout=within,
                socket_timeout=within,
                retry=Retry(NoBackoff(), 0),
            )
            self.embedded = False
        else:
            # Only `make run` (no REDIS_URL) needs the stand-in; a production worker never loads it.
            import fakeredis

            with RedisStore._fake_lock:
                if RedisStore._fake_server is None:
                    RedisStore._fake_server = fakeredis.FakeServer()
            self.client = fakeredis.FakeRedis(server=RedisStore._fake_server, decode_responses=True)
            self.health_client = self.client
            self.embedded = True
        app.extensions["huiyuan_redis"] = self

    def key(self, *parts: object) -> str:
        """A namespaced key: every key this app writes goes through here."""
        return self.prefix + ":".join(str(p) for p in parts)


def _store() -> RedisStore:
    if not has_app_context():
        raise RuntimeError("Redis is used outside an app context")
    return current_app.extensions["huiyuan_redis"]


def get_redis() -> redis.Redis:
    """The current app's Redis client."""
    return _store().client


def get_health_redis() -> redis.Redis:
    """The client /healthz pings with: its own short timeout."""
    return _store().health_client


def rkey(*parts: object) -> str:
    """A key in the current app's namespace (REDIS_KEY_PREFIX)."""
    return _store().key(*parts)
